"""The calibrated test in stages: stop as soon as the evidence is decisive either way.

Stage s queries the true mark and external marks 1..K_s on the first n_s images of a
seeded order (K_s and n_s never shrink, so earlier answers are reused, not re-billed)
and computes the calibrated p-value p_s on everything so far.

Error control (Bonferroni alpha spending): stage s rejects H0 when p_s ≤ α_s with
Σ α_s = level, so P(any stage rejects | H0) ≤ Σ P(p_s ≤ α_s) ≤ level whatever the
dependence between stages. Stopping for futility (p_s > the stage's futility bound:
"not detected") can only remove rejections, so it never raises the false-positive
rate; it costs some power, which the benchmarks measure. The false-positive rate is
also measured by simulation in ``tests/verifiers`` and
``benchmarks/verifier_error_rates.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from audit.errors import BudgetExhausted, VerifierOptionError
from audit.queries.oracle import TRUE_MARK, ScoreOracle
from audit.verifiers.budget_spent import budget_spent
from audit.verifiers.calibrated import statistic_name
from audit.verifiers.calibration import CALIBRATIONS, calibrated_evidence
from audit.verifiers.inputs import (
    check_choice,
    check_externals,
    check_images,
    check_level,
    image_order,
    label_index,
    require_label,
)
from audit.verifiers.protocol import Needs, Question
from audit.verifiers.result import verifier_result
from audit.verifiers.verdict import Verdict, VerifierResult

DEFAULT_STAGES = ((9, 10), (24, 10), (49, 10))
DEFAULT_SPENDING = (0.1, 0.2, 0.7)
DEFAULT_FUTILITY = (0.5, 0.2)


class SequentialVerifier:
    """Group-sequential calibrated test with Bonferroni alpha spending and futility stops.

    Null hypothesis: as for ``calibrated`` — the true mark's effect on label j is one
    more draw from the distribution of external marks' effects on the same images.
    Each stage's p-value means the same as ``calibrated``'s; the reported ``p_value``
    is the Bonferroni-adjusted one, min over stages of p_s · level / α_s, so that
    ``p_value ≤ level`` exactly when some stage rejected. ``stages`` is a list of
    cumulative (external marks, images); ``spending`` the shares of ``level`` each
    stage may spend; ``futility[s]`` the p above which stage s stops with
    "not detected" (no bound for the last stage, which always decides).
    """

    name = "sequential"

    def __init__(
        self,
        *,
        stages: Sequence[tuple[int, int]] = DEFAULT_STAGES,
        spending: Sequence[float] = DEFAULT_SPENDING,
        futility: Sequence[float] = DEFAULT_FUTILITY,
        level: float = 0.01,
        centre: bool = True,
        calibration: str = "t",
        seed: int = 0,
    ) -> None:
        stages = [(int(k), int(n)) for k, n in stages]
        if not stages:
            raise VerifierOptionError("sequential needs at least one stage")
        for (k0, n0), (k1, n1) in pairwise(stages):
            if k1 < k0 or n1 < n0 or (k1, n1) == (k0, n0):
                raise VerifierOptionError(f"stages must grow: {(k0, n0)} then {(k1, n1)}")
        if stages[0][0] < 2 or stages[0][1] < 2:
            raise VerifierOptionError(
                f"the first stage needs ≥ 2 externals and ≥ 2 images: {stages[0]}"
            )
        if len(spending) != len(stages) or min(spending) <= 0:
            raise VerifierOptionError(
                f"spending needs one positive share per stage, got {list(spending)}"
            )
        if len(futility) > len(stages) - 1:
            raise VerifierOptionError("futility bounds apply to all stages but the last")
        check_choice(calibration, CALIBRATIONS, "calibration")
        self.stages = stages
        self.level = check_level(level)
        total = float(sum(spending))
        self.alphas = [self.level * w / total for w in spending]
        self.futility = [float(f) for f in futility]
        self.centre = centre
        self.calibration = calibration
        self.seed = seed
        self.n_external = stages[-1][0]
        self.null_hypothesis = (
            "the model did not learn the mark: its effect on label j is drawn from the same "
            "distribution as the effects of the external marks of the same family on the "
            "same images (checked in stages; Bonferroni alpha spending over stages)"
        )

    def needs(self, n_images_available: int) -> Needs:
        """The first stage's queries, and every stage's: (K_last + 1) × n_last."""
        (k0, n0), (k, n) = self.stages[0], self.stages[-1]
        last = (k + 1) * min(n, n_images_available)
        return Needs(1, k, n, min(last, (k0 + 1) * min(n0, n_images_available)), last)

    def run(self, oracle: ScoreOracle, question: Question) -> VerifierResult:
        """Run stages until one decides."""
        label = require_label(question)
        j = label_index(oracle, label)
        check_images(self.stages[-1][1], oracle)
        check_externals(self.n_external, oracle, minimum=2)
        order = image_order(oracle.n_images, self.seed)
        centre = self.centre and oracle.statistic == "log_prob"
        rounds: list[dict] = []
        adjusted = 1.0
        verdict = Verdict.NOT_DETECTED
        evidence = None
        for s, (k, n) in enumerate(self.stages):
            try:
                scores = oracle.query([TRUE_MARK, *range(1, k + 1)], order[:n])
            except BudgetExhausted:
                return budget_spent(self, oracle, label, level=self.level, rounds=rounds)
            evidence = calibrated_evidence(scores, j, centre=centre)
            p = evidence.p_value(self.calibration)
            adjusted = min(adjusted, min(1.0, p * self.level / self.alphas[s]))
            last = s == len(self.stages) - 1
            stop_futile = not last and s < len(self.futility) and p > self.futility[s]
            decision = "continue"
            if p <= self.alphas[s]:
                verdict, decision = Verdict.DETECTED, "detected"
            elif last or stop_futile:
                decision = "not_detected"
            rounds.append(
                {
                    "stage": s + 1,
                    "n": n,
                    "externals": k,
                    "queries": oracle.queries_used(),
                    "alpha": self.alphas[s],
                    "futility": self.futility[s] if s < len(self.futility) else None,
                    "p_stage": p,
                    "decision": decision,
                    **evidence.summary(),
                }
            )
            if decision != "continue":
                break
        assert evidence is not None  # at least one stage ran
        return verifier_result(
            self,
            oracle,
            label,
            verdict=verdict,
            p_value=adjusted,
            level=self.level,
            rounds=rounds,
            details={
                "statistic": statistic_name(oracle.statistic, centre),
                "calibration": self.calibration,
                "stages_run": len(rounds),
                "true_statistic": evidence.true_statistic,
                "external_statistics": evidence.external_statistics,
                "per_image_shift": evidence.per_image_shift,
                "images": [int(b) for b in np.asarray(order[: rounds[-1]["n"]])],
            },
        )
