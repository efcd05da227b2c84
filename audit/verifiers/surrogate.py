"""Surrogate-adjusted mark statistics, and per-image standardization across marks.

Each mark has a *natural* effect on label j — what any model of the data domain does
with it, learned or not — and that effect, not image noise, sets most of the spread
the true mark is judged against. It is largely a property of the mark and the domain:
across independently trained small CNNs (CIFAR-10, Tiny-ImageNet) the marks'
statistics correlate at r ≈ 0.7-0.97 (same data, another seed) and 0.45-0.94 (a
model trained on half of that data plus other images of the domain). So a
surrogate model the person trains themselves predicts each mark's natural effect, and
the verifier ranks what the audited model does *beyond* that prediction.

Which surrogate (measured, ``benchmarks/mark_family_analysis.py``): a model that has
learned a member of the mark family raises the *other* members too (family transfer),
unevenly, and a clean surrogate cannot predict that. A *decoy* surrogate can: train it
on the person's own labelled data with a fresh member of the family (the decoy, never
one of the K + 1 audited marks) blended into label j exactly as the isotope was. Its
statistics then carry both the natural effects and the transfer pattern. Several
surrogates can be given at once (one regressor each).

Why the rank p-value stays exact. Under H0 the true mark and the K externals are
independent draws from one family and the audited model never saw any of them; the
surrogate never sees the audited model's replies and was trained without any of the
K + 1 marks (a decoy is a further independent member). Then
the K + 1 records D_i = (target statistics of mark i, surrogate statistics of mark i)
are exchangeable. Every function here returns R_i = g(D_i, {D_0, ..., D_K}) with g
symmetric in the set — one least-squares fit over *all* K + 1 marks (or, for
``loo``, each mark's residual from the fit on the others), per-image medians and
MADs over all marks — so (R_0, ..., R_K) is exchangeable too, the true mark's rank
among them is uniform, and (1 + #{externals ≥ true}) / (K + 1) is still an exact
p-value. What would break it: fitting on the externals only and applying the fit to
the true mark differently from the rest, choosing the adjustment after seeing which
way it moves the true mark, or a surrogate trained on the person's *marked* images
or a decoy drawn from the audited marks (it would know which mark is the true one).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

METHODS = ("ols", "loo")
Method = Literal["ols", "loo"]
MAD_TO_SD = 1.4826  # MAD of a normal sample times this estimates its standard deviation


def _design(surrogate: np.ndarray, marks: int) -> np.ndarray:
    s = np.asarray(surrogate, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2 or s.shape[0] != marks:
        raise ValueError(
            f"surrogate statistics must be (marks,) or (marks, regressors) with {marks} "
            f"marks, got shape {np.shape(surrogate)}"
        )
    if s.shape[1] + 2 > marks:
        raise ValueError(f"{s.shape[1]} regressors need at least {s.shape[1] + 2} marks")
    return np.column_stack([np.ones(marks), s])


def surrogate_adjust(
    target: np.ndarray, surrogate: np.ndarray, *, method: Method = "ols"
) -> np.ndarray:
    """What the audited model does with each mark beyond what the surrogate predicts.

    ``target``: (K + 1,) per-mark statistics of the audited model (row order free:
    true mark and externals alike). ``surrogate``: (K + 1,) or (K + 1, p) statistics
    of the same marks from one or more surrogate models (e.g. on the same images and
    on more images). Returns (K + 1,) residuals of the least-squares fit
    ``target ≈ b0 + surrogate · b`` over all K + 1 marks (``ols``), or each mark's
    residual from the fit on the other K marks (``loo``: a true mark far above the
    rest cannot pull the line toward itself). Both are permutation-equivariant, so
    ranking the true mark's residual among the externals' keeps the p-value exact
    (module docstring). A surrogate with no spread (constant column) just centres.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    a = np.asarray(target, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"target statistics must be (marks,), got shape {a.shape}")
    x = _design(surrogate, len(a))
    # lstsq with rcond=None is a pseudo-inverse fit: a constant column is dropped, not fatal.
    coef, *_ = np.linalg.lstsq(x, a, rcond=None)
    residual = a - x @ coef
    if method == "ols":
        return residual
    # Leave-one-out residuals without K + 1 refits: e_i / (1 - h_ii), h the hat matrix.
    pinv = np.linalg.pinv(x)
    leverage = np.einsum("ij,ji->i", x, pinv)
    return residual / np.maximum(1.0 - leverage, 1e-12)


def standardize_per_image(per_image: np.ndarray) -> np.ndarray:
    """Each image's column centred on its median over marks and scaled by its MAD.

    ``per_image``: (K + 1, n) statistics (marks × images). An image on which marks
    differ a lot (a busy picture the marks disturb) then weighs as much as a calm one,
    instead of dominating the per-mark mean. Medians and MADs are over all K + 1
    marks, so the result is permutation-equivariant (exactness kept). A column with
    zero MAD is only centred.
    """
    x = np.asarray(per_image, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected (marks, images), got shape {x.shape}")
    centred = x - np.median(x, axis=0, keepdims=True)
    mad = MAD_TO_SD * np.median(np.abs(centred), axis=0, keepdims=True)
    return centred / np.where(mad > 0, mad, 1.0)


def adjusted_statistics(
    target: np.ndarray,
    surrogate: np.ndarray | None = None,
    *,
    standardize: bool = False,
    method: Method = "ols",
) -> np.ndarray:
    """Per-mark statistics from per-image matrices, optionally standardized and adjusted.

    ``target``: (K + 1, n) per-image statistics of the audited model; ``surrogate``:
    (K + 1, m) per-image statistics of the same marks from a surrogate model (any
    images: the same n, or more — the surrogate costs no queries), or ``None``. With
    ``standardize`` both are standardized per image first. Returns (K + 1,): the
    per-mark mean, minus the surrogate's prediction when one is given.
    """
    a = np.asarray(target, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"target must be (marks, images), got shape {a.shape}")
    if standardize:
        a = standardize_per_image(a)
    stat = a.mean(axis=1)
    if surrogate is None:
        return stat
    s = np.asarray(surrogate, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != a.shape[0]:
        raise ValueError(f"surrogate must be ({a.shape[0]}, images), got shape {s.shape}")
    if standardize:
        s = standardize_per_image(s)
    return surrogate_adjust(stat, s.mean(axis=1), method=method)
