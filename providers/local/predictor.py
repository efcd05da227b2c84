"""Run a saved model on encoded images: decode, resize, batch, softmax."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from providers.local.device import resolve_device
from providers.local.model_file import ModelMeta, load_model

MAX_PIXELS = 25_000_000  # a 1.5 MB PNG can inflate to gigabytes: refuse before decoding
_UNKNOWN_FORMAT = "not an image format the server reads (JPEG, PNG, WebP, GIF, BMP, TIFF...)"


def _problem(exc: Exception) -> str:
    # Pillow names its BytesIO in some messages ("<_io.BytesIO object at 0x...>"):
    # a client learns nothing from that, so unidentified data gets a plain sentence.
    if isinstance(exc, UnidentifiedImageError) or "BytesIO" in str(exc):
        return _UNKNOWN_FORMAT
    return str(exc) or exc.__class__.__name__


def header_pixels(data: bytes) -> int:
    """Width × height from the image header, without decoding the pixels.

    Raises ``ValueError`` with a plain message for bytes that are no image.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.width * image.height
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"cannot decode image ({_problem(exc)})") from exc


class Predictor:
    """A loaded model that turns uint8 images into label probabilities."""

    def __init__(self, model_path: Path, *, device: str = "auto", chunk: int = 512) -> None:
        self.device = resolve_device(device)
        self.model, self.meta = load_model(Path(model_path), self.device)
        self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.chunk = chunk

    @property
    def labels(self) -> list[str]:
        """Label names, in output order."""
        return self.meta.labels

    def decode(self, data: bytes) -> np.ndarray:
        """Encoded image bytes → uint8 (S, S, 3) at the model's input size.

        Raises ``ValueError`` with the decoder's complaint for bytes that are no image.
        """
        size = self.meta.input_size
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ValueError(f"{image.width}×{image.height} pixels is too large")
                rgb = ImageOps.exif_transpose(image).convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
            raise ValueError(f"cannot decode image ({_problem(exc)})") from exc
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)

    @torch.inference_mode()
    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities float32 (N, labels) for uint8 images (N, S, S, 3)."""
        out = []
        cuda = self.device.type == "cuda"
        for start in range(0, len(images), self.chunk):
            x = torch.from_numpy(np.ascontiguousarray(images[start : start + self.chunk]))
            x = x.to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=cuda):
                logits = self.model(x)
            out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
        if not out:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return np.concatenate(out)


def describe(meta: ModelMeta) -> dict:
    """The model-info document the server publishes."""
    return {
        "arch": meta.arch,
        "labels": list(meta.labels),
        "inputSize": meta.input_size,
        "training": dict(meta.extra),
    }
