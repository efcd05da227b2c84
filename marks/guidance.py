"""Which marking settings are known to be weak, for a warning before marking.

Detection needs the model to learn the mark, and that depends on how strongly it is
blended (α) and how many of the label's images carry it (p). The paper bounds what is
detectable from below (α 0.4 and p 0.1 are its working settings on CIFAR-scale data),
and the project's measurements of the default flow (``benchmarks/``) cover α 0.4,
p 0.1 only: below either, nothing says an audit will find the mark. A warning, not a
refusal: a person may have reasons (a visible mark they cannot accept), and may
still audit.

Face marks are exempt: a face audit tests whether the posted copy itself was
enrolled, which any mark that makes it unique serves (``marks.purposes.FACES``).
"""

from __future__ import annotations

from marks.purposes import DEFAULT_ALPHA, FACES

WEAK_ALPHA_BELOW = DEFAULT_ALPHA
WEAK_FRACTION_BELOW = 0.1
_SLACK = 1e-9  # 0.1 typed by a person is 0.1


def weak_setting_warnings(alpha: float, fraction: float, purpose: str | None) -> list[str]:
    """One sentence per setting below what has been shown detectable (none for faces)."""
    if purpose == FACES.name:
        return []
    warnings = []
    if alpha < WEAK_ALPHA_BELOW - _SLACK:
        warnings.append(
            f"α {alpha:g} is below {WEAK_ALPHA_BELOW:g}: a fainter mark is learned less, "
            f"and detection is only measured at α {WEAK_ALPHA_BELOW:g} and above; an audit "
            "may not find it even if the model was trained on these images"
        )
    if fraction < WEAK_FRACTION_BELOW - _SLACK:
        warnings.append(
            f"marking {fraction:g} of the images is below {WEAK_FRACTION_BELOW:g}: with "
            "fewer marked images the model learns the mark less, and detection is only "
            f"measured at a share of {WEAK_FRACTION_BELOW:g} and above"
        )
    return warnings
