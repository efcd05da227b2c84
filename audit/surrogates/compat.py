"""Which verifiers can use surrogates: those that rank all K + 1 marks at once.

The adjustment is one least-squares fit over every mark's statistics, so a method
must have all K + 1 marks' replies before it decides. The calibrated rank test (the
default of ``audit probability`` and ``audit rank``) has; a verifier says so with
``takes_surrogate = True``. The sequential test decides before it has them all, and
paired tests, the paper's test, label scans and distinguishers rank no K + 1 marks of
one label, so all of those are refused rather than silently left unadjusted.
"""

from __future__ import annotations

from audit.surrogates.errors import SurrogateError
from audit.verifiers.besag_clifford import NO_SURROGATE
from audit.verifiers.protocol import Verifier


def check_takes_surrogate(verifier: Verifier) -> None:
    """``SurrogateError`` saying why, unless ``verifier`` adjusts by surrogates."""
    if getattr(verifier, "takes_surrogate", False):
        return
    if verifier.name == "sequential":
        raise SurrogateError(NO_SURROGATE)
    raise SurrogateError(
        f"method {verifier.name!r} cannot adjust by surrogates: only the calibrated rank "
        "test (the default of `audit probability` and `audit rank`) ranks all your marks' "
        "replies at once, as the adjustment needs; leave out --surrogate or that method"
    )
