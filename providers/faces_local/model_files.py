"""The dlib library and the model files the local face engine runs on.

The model files ship inside the ``face-recognition-models`` package. Its ``__init__``
imports ``pkg_resources``, which recent setuptools no longer provides, so the files are
located from the package's import spec without executing it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from providers.errors import MissingExtraError

PROVIDER = "local face engine"
EXTRA = "faces"
SHAPE_PREDICTOR = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_MODEL = "dlib_face_recognition_resnet_model_v1.dat"


def import_dlib() -> ModuleType:
    """The ``dlib`` module, or ``MissingExtraError`` naming the ``faces`` extra."""
    try:
        import dlib
    except ImportError as exc:
        raise MissingExtraError(PROVIDER, EXTRA) from exc
    return dlib


@dataclass(frozen=True)
class ModelFiles:
    """Paths of the 5-point shape predictor and the 128-d ResNet descriptor model."""

    shape_predictor: Path
    descriptor_model: Path

    @classmethod
    def from_package(cls) -> ModelFiles:
        """The files inside the installed ``face_recognition_models`` package.

        Raises ``MissingExtraError`` when the package is absent and
        ``FileNotFoundError`` naming a file the package lacks.
        """
        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or not spec.submodule_search_locations:
            raise MissingExtraError(PROVIDER, EXTRA)
        folder = Path(next(iter(spec.submodule_search_locations))) / "models"
        files = cls(folder / SHAPE_PREDICTOR, folder / DESCRIPTOR_MODEL)
        for path in (files.shape_predictor, files.descriptor_model):
            if not path.is_file():
                raise FileNotFoundError(
                    f"face model file missing: {path} (reinstall the faces extra)"
                )
        return files
