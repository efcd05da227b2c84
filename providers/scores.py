"""What a classification service returned for one image."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class OutputMode(StrEnum):
    """How much of the label distribution a service returns."""

    FULL = "full"  # every label's probability
    TOP_K = "top_k"  # the K highest labels only
    THRESHOLD = "threshold"  # the labels whose score is above a threshold


@dataclass(frozen=True)
class Scores:
    """Label -> score for one image, as the service returned it.

    A label the service did not return is *absent* (``get`` returns ``None``), not 0:
    with top-K or threshold output its score is unknown, only bounded.
    """

    values: Mapping[str, float]
    mode: OutputMode = OutputMode.FULL
    k: int | None = None  # for TOP_K: how many labels were asked for
    threshold: float | None = None  # for THRESHOLD: the service's cut-off
    model: str | None = None  # identity of the model that answered (None: not told)
    extra: Mapping[str, object] = field(default_factory=dict)  # what else the reply said

    def __post_init__(self) -> None:
        for label, value in self.values.items():
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"score for label {label!r} is not a finite number: {value!r}")

    def get(self, label: str) -> float | None:
        """The score of ``label``, or ``None`` if the service did not return it."""
        return self.values.get(label)

    def rank(self, label: str) -> int:
        """1-based rank of ``label`` by score; ``len(values) + 1`` when absent.

        With top-K output an absent label ranks K+1 (worse than every returned one).
        """
        if label not in self.values:
            return (self.k if self.k is not None else len(self.values)) + 1
        score = self.values[label]
        return 1 + sum(1 for v in self.values.values() if v > score)

    def to_json(self) -> dict:
        """A JSON-serialisable dict (for the ledger and reports)."""
        return {
            "values": dict(self.values),
            "mode": self.mode.value,
            "k": self.k,
            "threshold": self.threshold,
            "model": self.model,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping) -> Scores:
        """Inverse of ``to_json``."""
        return cls(
            values={str(k): float(v) for k, v in data["values"].items()},
            mode=OutputMode(data.get("mode", "full")),
            k=data.get("k"),
            threshold=data.get("threshold"),
            model=data.get("model"),
            extra=dict(data.get("extra", {})),
        )
