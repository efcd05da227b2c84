"""The report's plot: per-image shifts and where the true mark sits among the externals."""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np

from audit.queries.oracle import TRUE_MARK


def shift_data(
    answered: Mapping[tuple[int, int], float], n_external: int
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """From pair statistics on label j: per-image shifts, externals' means, true mean.

    A shift is the true mark's statistic on an image minus the mean of the external
    marks' statistics on the same image. Mark means use the images every mark was
    queried on, so they compare like with like.
    """
    images = sorted({b for (a, b) in answered if a == TRUE_MARK})
    externals = range(1, n_external + 1)
    shifts = []
    for b in images:
        ext = [answered[(k, b)] for k in externals if (k, b) in answered]
        if ext:
            shifts.append(answered[(TRUE_MARK, b)] - float(np.mean(ext)))
    common = [b for b in images if all((k, b) in answered for k in externals)]
    if not common or n_external == 0:
        return np.array(shifts), np.array([]), None
    ext_means = np.array([np.mean([answered[(k, b)] for b in common]) for k in externals])
    true_mean = float(np.mean([answered[(TRUE_MARK, b)] for b in common]))
    return np.array(shifts), ext_means, true_mean


def render_shifts_png(
    shifts: np.ndarray,
    external_means: np.ndarray,
    true_mean: float | None,
    *,
    label: str,
    statistic: str,
    verdict: str,
) -> bytes:
    """A two-panel PNG: histogram of per-image shifts; each mark's mean on ``label``.

    ``statistic`` names what was measured (for the axes): "log_prob", "neg_rank", or a
    verifier's own description.
    """
    unit = {"log_prob": "log-probability", "neg_rank": "−rank"}.get(statistic, statistic)
    # Figure (not pyplot): no global state, no GUI backend, headless by construction.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), dpi=100)
    left, right = fig.subplots(1, 2)
    if len(shifts):
        left.hist(shifts, bins=min(40, max(5, len(shifts) // 5)), color="#4477aa")
        left.axvline(0.0, color="black", lw=1)
        left.axvline(float(np.mean(shifts)), color="#cc3311", lw=2, label="mean shift")
        left.legend()
    else:
        left.text(0.5, 0.5, "no paired queries", ha="center", va="center")
    left.set_title(f"per-image shift on {label!r}: true mark − externals", fontsize=10)
    left.set_xlabel("shift")
    left.set_ylabel("images")
    if true_mean is not None and len(external_means):
        right.hist(
            external_means,
            bins=min(30, max(5, len(external_means) // 2)),
            color="#4477aa",
            label=f"external marks ({len(external_means)})",
        )
        right.axvline(true_mean, color="#cc3311", lw=3, label="true mark")
        right.set_ylabel("marks")
        right.legend(loc="upper left")
    else:
        right.text(0.5, 0.5, "no images queried with every mark", ha="center", va="center")
    right.set_title(f"per-mark statistic on {label!r}", fontsize=10)
    right.set_xlabel(unit if len(unit) < 70 else unit[:67] + "...")
    fig.suptitle(f"verdict: {verdict}")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
