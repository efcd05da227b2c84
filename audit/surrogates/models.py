"""Loading a surrogate folder, and scoring an audit's marked images on it, locally.

``SurrogateSet.load`` reads the manifest and the model files and checks they fit the
audit (the same mark, the same label j, decoys recorded in this store).
``LocalSurrogateScores`` is what a verifier sees (``audit.queries.oracle.SurrogateScores``):
the scores of every surrogate model for the same (mark, auxiliary image) pairs the
audited model is asked about, blended the same way, in the same statistic format
(log-probabilities, minus ranks or confidences). Nothing here is sent or billed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from audit.inputs.aux_images import AuxImages
from audit.queries.oracle import CLEAN, Indices
from audit.surrogates.errors import SurrogateError
from audit.surrogates.manifest import CLEAN as CLEAN_ROLE
from audit.surrogates.manifest import DECOY, SurrogateManifest, read_manifest
from marks.blend import blend
from marks.decoys import decoys_of
from marks.mark import Mark
from marks.store import MarkStore
from providers.local.predictor import Predictor

MIN_PROB = 1e-6  # as the provider oracle clips a service's probabilities before the log
_STATISTICS = ("log_prob", "neg_rank", "confidence")


@dataclass
class SurrogateSet:
    """A loaded surrogate folder: its manifest and one predictor per model file."""

    folder: Path
    manifest: SurrogateManifest
    predictors: list[Predictor]

    @classmethod
    def load(cls, folder: Path, *, device: str = "cpu") -> SurrogateSet:
        """Read ``folder`` (``SurrogateError`` when it is not a usable surrogate folder)."""
        folder = Path(folder)
        manifest = read_manifest(folder)
        predictors = []
        for model in manifest.models:
            path = folder / model.file
            if Path(model.file).name != model.file or not path.is_file():
                raise SurrogateError(f"{folder}: model file {model.file!r} is missing")
            predictors.append(Predictor(path, device=device))
        labels = predictors[0].labels
        if any(p.labels != labels for p in predictors):
            raise SurrogateError(f"{folder}: its models do not share one set of labels")
        return cls(folder, manifest, predictors)

    @property
    def labels(self) -> list[str]:
        """The labels the surrogates were trained on (subfolder names)."""
        return self.predictors[0].labels

    @property
    def groups(self) -> list[int]:
        """Each model's regressor: decoys share the first (averaged), clean ones the next."""
        roles = [role for role in (DECOY, CLEAN_ROLE) if role in self._roles]
        return [roles.index(role) for role in self._roles]

    @property
    def _roles(self) -> list[str]:
        return [model.role for model in self.manifest.models]

    def check_for(self, mark: Mark, label: str, store: MarkStore | None) -> list[Mark]:
        """The decoys to keep away from the audit's marks, after checking the set fits.

        Refused (``SurrogateError``): a set made for another mark (or a mark since
        replaced) or another label, or whose decoys this store does not record (the
        audit could not then keep its externals away from them).
        """
        made = self.manifest
        if made.fingerprint != mark.fingerprint:
            raise SurrogateError(
                f"the surrogates in {self.folder} were trained for mark {made.mark!r}"
                f"{' before it was replaced' if made.mark == mark.name else ''}, not for "
                f"the audited mark {mark.name!r}: train a set for it (`isotope surrogate train`)"
            )
        if made.label != label:
            raise SurrogateError(
                f"the surrogates in {self.folder} learned decoys on label {made.label!r}, "
                f"not on the audited label {label!r}: train a set for {label!r}"
            )
        if label not in self.labels:
            raise SurrogateError(f"the surrogates in {self.folder} have no label {label!r}")
        if made.decoy_set is None:
            return []
        if store is None:
            raise SurrogateError(
                "an audit with decoy surrogates needs the store their decoys are recorded "
                "in (--store), to keep its external marks away from them"
            )
        return decoys_of(store, mark, made.decoy_set)


def as_statistic(probs: np.ndarray, statistic: str) -> np.ndarray:
    """Probabilities (..., labels) in the format an oracle of ``statistic`` returns.

    log_prob: log p clipped at ``MIN_PROB``; neg_rank: minus the 1-based rank (ties
    share the best rank); confidence: p itself (a local model has no threshold).
    """
    if statistic == "log_prob":
        return np.log(np.clip(probs, MIN_PROB, 1.0))
    if statistic == "confidence":
        return probs.astype(np.float64)
    if statistic == "neg_rank":
        higher = (probs[..., None, :] > probs[..., :, None]).sum(axis=-1)
        return -(1.0 + higher)
    raise ValueError(f"statistic must be one of {_STATISTICS}, got {statistic!r}")


class LocalSurrogateScores:
    """Every surrogate model's scores of the audit's (mark, image) pairs (cached).

    ``marks`` and ``alpha`` are the audit's, in oracle order (true mark first), and
    ``aux`` its auxiliary images: mark index ``a`` on image ``b`` is blended exactly as
    the provider oracle blends it, then resized to each model's input as the local
    server does. ``statistic`` is the audited oracle's (after its vocabulary probe).
    """

    def __init__(
        self,
        surrogate: SurrogateSet,
        aux: AuxImages,
        marks: Sequence[Mark],
        alpha: float,
        *,
        statistic: str,
    ) -> None:
        if statistic not in _STATISTICS:
            raise ValueError(f"statistic must be one of {_STATISTICS}, got {statistic!r}")
        self.surrogate = surrogate
        self.aux = aux
        self.marks = list(marks)
        self.alpha = alpha
        self.statistic = statistic
        self.labels = list(surrogate.labels)
        self.groups = surrogate.groups
        self.description = surrogate.manifest.public()
        self._cache: dict[tuple[int, int], np.ndarray] = {}  # (models, labels) per pair

    def _pixels(self, mark: int, image: int, size: int) -> np.ndarray:
        clean = self.aux.images[image]
        pixels = clean if mark == CLEAN else blend(clean, self.marks[mark], self.alpha)
        if pixels.shape[:2] != (size, size):
            resized = Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR)
            pixels = np.asarray(resized, dtype=np.uint8)
        return pixels

    def query(self, marks: Indices, images: Indices) -> np.ndarray:
        """Scores (models, len(marks), len(images), len(labels)) in ``statistic`` format."""
        pairs = [(int(a), int(b)) for a in marks for b in images]
        todo = list(dict.fromkeys(pair for pair in pairs if pair not in self._cache))
        if todo:
            per_model = []
            for predictor in self.surrogate.predictors:
                size = predictor.meta.input_size
                batch = np.stack([self._pixels(a, b, size) for a, b in todo])
                per_model.append(predictor.predict(batch))
            values = as_statistic(np.stack(per_model), self.statistic)  # (models, pairs, L)
            for index, pair in enumerate(todo):
                self._cache[pair] = values[:, index]
        out = np.stack([self._cache[pair] for pair in pairs], axis=1)
        return out.reshape(len(self.surrogate.predictors), len(marks), len(images), -1)
