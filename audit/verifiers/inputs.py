"""Input checks shared by the verifiers: clear messages, raised before any query."""

from __future__ import annotations

import numpy as np

from audit.errors import UnknownLabelError, VerifierOptionError
from audit.queries.oracle import ScoreOracle
from audit.verifiers.protocol import Question


def label_index(oracle: ScoreOracle, label: str) -> int:
    """Index of ``label`` in ``oracle.labels``; ``UnknownLabelError`` naming the known ones."""
    if label not in oracle.labels:
        known = ", ".join(oracle.labels[:20]) + (" ..." if len(oracle.labels) > 20 else "")
        raise UnknownLabelError(f"label {label!r} is not one of the model's labels ({known})")
    return oracle.labels.index(label)


def require_label(question: Question) -> str:
    """The question's label j; ``VerifierOptionError`` when it has none (a scan's)."""
    if question.label is None:
        raise VerifierOptionError("this method tests one label: give the label j")
    return question.label


def check_choice(value: str, choices: tuple[str, ...], name: str) -> str:
    """``value`` if it is one of ``choices``, else ``VerifierOptionError`` listing them."""
    if value not in choices:
        raise VerifierOptionError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_at_least(value: int, minimum: int, name: str) -> int:
    """``value`` if it is at least ``minimum``, else ``VerifierOptionError``."""
    if value < minimum:
        raise VerifierOptionError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_images(n: int, oracle: ScoreOracle, *, minimum: int = 2) -> int:
    """``n`` if the auxiliary pool holds that many images, else ``VerifierOptionError``."""
    check_at_least(n, minimum, "n (images per round)")
    if n > oracle.n_images:
        raise VerifierOptionError(
            f"n = {n} is larger than the auxiliary pool ({oracle.n_images} images): "
            "add images to the auxiliary folder or lower n"
        )
    return n


def check_externals(k: int, oracle: ScoreOracle, *, minimum: int = 1) -> int:
    """``k`` if the oracle offers that many external marks, else ``VerifierOptionError``."""
    if k < minimum:
        raise VerifierOptionError(f"this method needs at least {minimum} external marks, got {k}")
    if k > oracle.n_external:
        raise VerifierOptionError(
            f"this method needs {k} external marks but the audit has {oracle.n_external}"
        )
    return k


def check_level(level: float, name: str = "level") -> float:
    """``level`` if it lies in (0, 1), else ``VerifierOptionError``."""
    if not 0.0 < level < 1.0:
        raise VerifierOptionError(f"{name} must be in (0, 1), got {level}")
    return float(level)


def image_order(n_available: int, seed: int) -> np.ndarray:
    """A seeded permutation of the auxiliary pool: which images to query first."""
    return np.random.default_rng(seed).permutation(n_available)
