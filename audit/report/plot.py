"""The report's plot ``shifts.png``: where the true mark sits among the external marks.

Left: image by image (or, for a label scan, label by label), every external mark's
value as a blue dot and the true mark's as a red diamond — a learned mark sits above
the cloud on every image, an unlearned one inside it. With many images (the paper's
method) it is a scatter of the true mark's value against the externals' mean on each
image instead, above the diagonal where the mark lifts the label. Right: the per-mark
statistic the verifier ranked, the externals as a histogram and the true mark as a
red line (or, without one, the per-image differences). The title carries the
verdict, the p-value and whether it is exact.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from audit.queries.oracle import TRUE_MARK
from audit.report.wording import format_p, human_verdict

if TYPE_CHECKING:
    from matplotlib.axes import Axes

TRUE_COLOUR = "#cc3311"
EXTERNAL_COLOUR = "#4477aa"
MAX_STRIP_COLUMNS = 30  # beyond this a strip per image is unreadable: scatter instead


@dataclass
class PlotData:
    """What ``render_shifts_png`` draws (every array may be empty)."""

    label: str
    verdict: str  # as in JSON: detected / not_detected / inconclusive
    p_value: float | None
    exact: bool
    method: str
    statistic: str  # what the per-mark statistic is, in words
    true_statistic: float | None = None
    external_statistics: np.ndarray = field(default_factory=lambda: np.array([]))
    strip_names: list[str] = field(default_factory=list)  # images or labels
    strip_true: np.ndarray = field(default_factory=lambda: np.array([]))  # (C,)
    strip_externals: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (K, C)
    strip_what: str = "image"  # "image" or "label"
    strip_value: str = ""  # what the strip's values are, in words
    planned: int | None = None  # externals a sequential test would have compared at most


def per_image_from_answers(
    answered: Mapping[tuple[int, int], float], n_external: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """From pair statistics of one label: images the true mark was queried on, its
    value on each, and each external's (NaN where an external was not queried)."""
    images = sorted({b for (a, b) in answered if a == TRUE_MARK})
    true = np.array([answered[(TRUE_MARK, b)] for b in images], dtype=float)
    externals = np.array(
        [[answered.get((k, b), np.nan) for b in images] for k in range(1, n_external + 1)],
        dtype=float,
    ).reshape(n_external, len(images))
    keep = ~np.all(np.isnan(externals), axis=1)
    return [str(b) for b in images], true, externals[keep]


def _wrap(text: str, width: int = 62) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _title(data: PlotData) -> str:
    p = "no p-value" if data.p_value is None else f"p = {format_p(data.p_value)}"
    kind = "exact" if data.exact else "approximate"
    where = f"on label {data.label!r}" if data.label else "on no label"
    return f"{human_verdict(data.verdict)} {where} — {p} ({kind}, {data.method} verifier)"


def _legend(ax: Axes) -> None:
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)


def _scatter(ax: Axes, data: PlotData) -> None:
    """Many images: the true mark's value against the externals' mean, image by image."""
    with np.errstate(all="ignore"):
        reference = np.nanmean(data.strip_externals, axis=0)
    keep = np.isfinite(reference)
    x, y = reference[keep], data.strip_true[keep]
    ax.scatter(x, y, s=12, color=TRUE_COLOUR, alpha=0.6, label="one auxiliary image")
    if len(x):
        low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([low, high], [low, high], color="black", lw=1, label="no lift (y = x)")
    ax.set_xlabel(_wrap(f"external marks' mean: {data.strip_value}", 56), fontsize=9)
    ax.set_ylabel(_wrap(f"your mark: {data.strip_value}", 48), fontsize=9)
    ax.set_title(f"each of {len(x)} auxiliary images: your mark against the externals", fontsize=10)
    _legend(ax)


def _strip(ax: Axes, data: PlotData) -> None:
    columns = len(data.strip_true)
    if not columns:
        ax.text(0.5, 0.5, "no per-image values to show", ha="center", va="center")
        ax.set_axis_off()
        return
    if columns > MAX_STRIP_COLUMNS and data.strip_externals.size:
        _scatter(ax, data)
        return
    x = np.arange(columns)
    rng = np.random.default_rng(0)  # jitter only: the same picture every time
    ext = data.strip_externals
    if ext.size:
        jitter = rng.uniform(-0.18, 0.18, size=ext.shape)
        ax.scatter(
            (x + jitter).ravel(),
            ext.ravel(),
            s=10,
            color=EXTERNAL_COLOUR,
            alpha=0.45,
            label=f"external marks ({len(ext)})",
        )
    ax.scatter(
        x,
        data.strip_true,
        s=70,
        marker="D",
        color=TRUE_COLOUR,
        edgecolor="black",
        zorder=3,
        label="your mark",
    )
    ax.set_xticks(x, data.strip_names, rotation=45 if columns > 8 else 0)
    noun = "auxiliary image" if data.strip_what == "image" else "label"
    ax.set_xlabel(f"{noun} (all {columns} the test used)")
    ax.set_ylabel(_wrap(data.strip_value, 48), fontsize=9)
    ax.set_title(f"{noun} by {noun}: your mark against each external mark", fontsize=10)
    _legend(ax)


def _differences(ax: Axes, data: PlotData) -> None:
    """No per-mark statistic: the per-image difference, true mark − externals' mean."""
    with np.errstate(all="ignore"):
        shift = data.strip_true - np.nanmean(data.strip_externals, axis=0)
    shift = shift[np.isfinite(shift)] if data.strip_externals.size else np.array([])
    if not len(shift):
        ax.text(0.5, 0.5, "no mark compared on the same images", ha="center", va="center")
        ax.set_axis_off()
        return
    bins = min(40, max(5, len(shift) // 5))
    ax.hist(shift, bins=bins, color=EXTERNAL_COLOUR, alpha=0.8, label="auxiliary images")
    ax.axvline(0.0, color="black", lw=1, label="no difference")
    ax.axvline(float(shift.mean()), color=TRUE_COLOUR, lw=3, label="mean difference")
    ax.set_title("per image: your mark minus the external marks' mean", fontsize=10)
    ax.set_xlabel(_wrap(f"difference in {data.strip_value}"), fontsize=9)
    ax.set_ylabel("number of auxiliary images")
    _legend(ax)


def _distribution(ax: Axes, data: PlotData) -> None:
    ext = np.asarray(data.external_statistics, dtype=float)
    if data.true_statistic is None or not len(ext):
        _differences(ax, data)
        return
    bins = min(30, max(5, len(ext) // 3))
    ax.hist(ext, bins=bins, color=EXTERNAL_COLOUR, alpha=0.8, label=f"external marks ({len(ext)})")
    ax.axvline(data.true_statistic, color=TRUE_COLOUR, lw=3, label="your mark")
    above = int(np.sum(ext >= data.true_statistic))
    title = f"the statistic tested: {above} of {len(ext)} external marks score at least as high"
    if data.planned is not None and data.planned > len(ext):
        title += f"\n(the test stopped early: it would have compared {data.planned})"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(_wrap(data.statistic), fontsize=9)
    ax.set_ylabel("number of external marks")
    _legend(ax)


def render_shifts_png(data: PlotData) -> bytes:
    """The two-panel PNG described in the module docstring."""
    # Figure (not pyplot): no global state, no GUI backend, headless by construction.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5.2), dpi=100, layout="constrained")
    left, right = fig.subplots(1, 2)
    _strip(left, data)
    _distribution(right, data)
    fig.suptitle(
        _title(data), fontsize=12, color=TRUE_COLOUR if data.verdict == "detected" else "black"
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
