"""Verifiers: statistical tests of "the model learned the person's mark".

``build_verifier(method, **options)`` makes one by name; every verifier states its
null hypothesis and has ``run(oracle, label) -> VerifierResult`` (see
``audit.verifiers.protocol.Verifier``). The distinguisher (V_D) and the label scan
have their own entry points in ``distinguish`` and ``label_scan``.
"""

from __future__ import annotations

from audit.verifiers.calibrated import CalibratedVerifier
from audit.verifiers.paper import PaperVerifier
from audit.verifiers.protocol import Verifier
from audit.verifiers.rank import RankVerifier
from audit.verifiers.sequential import SequentialVerifier
from audit.verifiers.unpaired import UnpairedVerifier

_CLASSES = {
    "calibrated": CalibratedVerifier,
    "sequential": SequentialVerifier,
    "paper": PaperVerifier,
    "rank": RankVerifier,
    "unpaired": UnpairedVerifier,
}
METHODS = tuple(_CLASSES)
"""Names ``build_verifier`` accepts; "calibrated" is the default."""


def build_verifier(method: str, **options: object) -> Verifier:
    """The verifier named ``method`` with its options (``ValueError`` on unknown ones).

    Options not given take each verifier's defaults; ``None`` values are dropped so a
    CLI can pass every flag through.
    """
    if method not in _CLASSES:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    options = {key: value for key, value in options.items() if value is not None}
    try:
        return _CLASSES[method](**options)
    except TypeError as exc:  # an option this method does not take
        raise ValueError(f"method {method!r}: {exc}") from None


__all__ = ["METHODS", "Verifier", "build_verifier"]
