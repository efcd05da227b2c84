"""What each verifier decides on clearly clean and clearly marked simulated models."""

from __future__ import annotations

import pytest

from audit.queries.oracle import CLEAN
from audit.verifiers.distinguish import Distinguisher
from audit.verifiers.label_scan import LabelScan, propose_labels
from audit.verifiers.protocol import Question
from audit.verifiers.registry import build_verifier
from audit.verifiers.verdict import Verdict
from providers.scores import Scores

STRONG = 6.0


@pytest.mark.parametrize("method", ["calibrated", "sequential", "paper", "rank"])
def test_a_very_strong_isotope_is_detected(method: str, make_oracle) -> None:
    options: dict = {"n": 30} if method == "paper" else {}
    if method in ("rank", "calibrated"):
        options = {"externals": 49, "n": 10, "calibration": "t"}
    if method == "sequential":
        options = {"externals": 49, "level": 0.02}
    result = build_verifier(method, **options).run(
        make_oracle(effect=STRONG, seed=7), Question("l0")
    )
    assert result.verdict is Verdict.DETECTED
    assert result.label == "l0"
    assert result.null_hypothesis == build_verifier(method, **options).null_hypothesis
    assert result.rounds


def test_calibrated_reports_what_a_plot_needs(make_oracle) -> None:
    oracle = make_oracle(effect=STRONG, n_external=99)
    result = build_verifier("calibrated").run(oracle, Question("l0"))
    assert result.p_value == pytest.approx(1 / 100)  # exact rank p-value, K = 99
    assert result.verdict is Verdict.DETECTED
    assert result.queries == 500
    details = result.details
    assert len(details["external_statistics"]) == 99
    assert len(details["per_image_shift"]) == 5
    assert details["true_statistic"] > max(details["external_statistics"])
    assert result.rounds[0]["p_t"] < 1e-4
    assert len(details["per_image_externals"]) == 99 and len(details["per_image_true"]) == 5
    assert "centred" in details["statistic"]
    assert details["p_floor"] == pytest.approx(0.01) and details["externals_compared"] == 99
    assert (result.calibration, result.exact) == ("rank", True)


def test_rank_works_on_top_k_output(make_oracle) -> None:
    oracle = make_oracle(effect=STRONG, statistic="neg_rank", top_k=3, n_external=99)
    result = build_verifier("rank").run(oracle, Question("l0"))
    assert result.verdict is Verdict.DETECTED and result.method == "rank"
    assert result.p_value == pytest.approx(0.01)  # exact rank p-value: 1 / (99 + 1)
    assert result.details["mean_rank_true"] < 2.5
    assert (result.calibration, result.exact) == ("rank", True)
    assert "rank" in result.null_hypothesis
    wilcoxon = build_verifier("rank", test="wilcoxon", externals=3, n=20).run(
        oracle, Question("l0")
    )
    assert wilcoxon.verdict is Verdict.DETECTED and len(wilcoxon.rounds[0]["p_per_external"]) == 3
    assert not wilcoxon.exact and "natural" in wilcoxon.exact_reason


def test_rank_from_log_probabilities_matches_rank_output(make_oracle) -> None:
    """The rank command's methods test minus the rank even when given log-probabilities."""
    full = make_oracle(effect=2.0, n_external=99, seed=4)
    ranked = make_oracle(effect=2.0, n_external=99, seed=4, statistic="neg_rank")
    for method in ("rank", "calibrated", "sequential"):
        a = build_verifier(method, command="rank").run(full, Question("l0"))
        b = build_verifier(method, command="rank").run(ranked, Question("l0"))
        assert a.details["statistic"] == b.details["statistic"]
        assert "rank" in a.details["statistic"]
        assert (a.verdict, a.p_value) == (b.verdict, b.p_value), method


def test_unpaired_welch(make_oracle) -> None:
    result = build_verifier("unpaired", n=40).run(make_oracle(effect=STRONG), Question("l0"))
    assert result.verdict is Verdict.DETECTED
    assert result.details["mean_with"] > result.details["mean_without"]
    assert result.queries == 80
    externals = build_verifier("unpaired", n=20, compare="externals", externals=3)
    assert externals.run(make_oracle(effect=STRONG), Question("l0")).rounds[0]["n_without"] == 60


def test_distinguisher(make_oracle) -> None:
    planted = {1: ("l3", STRONG)}
    both = make_oracle(effect=STRONG, planted=planted, n_external=100)
    calibrated = Distinguisher().run(both, Question("l0", "l3"))
    assert calibrated.verdict is Verdict.DETECTED and calibrated.queries == 101 * 5
    assert calibrated.p_value == pytest.approx(0.01)
    assert (calibrated.calibration, calibrated.exact) == ("rank, both marks", True)
    only_one = make_oracle(effect=STRONG, n_external=100)  # t_k was never learned
    result = Distinguisher().run(only_one, Question("l0", "l3"))
    assert result.verdict is Verdict.NOT_DETECTED and result.rounds[0]["p_label"] == 0.01
    paired = Distinguisher(externals=0).run(
        make_oracle(effect=STRONG, planted=planted), Question("l0", "l3")
    )
    assert paired.verdict is Verdict.DETECTED and paired.queries == 2 * 25
    assert not paired.exact and "--externals 0" in paired.exact_reason
    with pytest.raises(ValueError, match="must differ"):
        Distinguisher().run(both, Question("l0", "l0"))


def test_label_scan_finds_the_label_with_max_t(make_oracle) -> None:
    oracle = make_oracle(effect=STRONG, label="l4", n_external=99)
    result = LabelScan().run(oracle, Question())
    assert result.verdict is Verdict.DETECTED and result.p_value == pytest.approx(0.01)
    assert result.label == "l4" and result.details["detected_labels"] == ["l4"]
    assert len(result.rounds) == 10 and result.queries == 500
    assert (result.calibration, result.exact) == ("max-T rank", True)
    clean = LabelScan().run(make_oracle(seed=3, n_external=99), Question())
    assert clean.verdict is Verdict.NOT_DETECTED and clean.p_value > 0.01
    with pytest.raises(ValueError, match="not known"):
        LabelScan(labels=["zebra"]).run(oracle, Question())


def test_propose_labels_from_own_images() -> None:
    own = [
        Scores({"cat": 0.7, "dog": 0.3}),
        Scores({"cat": 0.4, "dog": 0.6}),
        Scores({"cat": 0.8, "frog": 0.2}),
    ]
    proposals = propose_labels(own, top=2)
    assert [p.label for p in proposals] == ["cat", "dog"]
    assert proposals[0].top1_share == pytest.approx(2 / 3)
    assert proposals[0].mean_probability == pytest.approx(1.9 / 3)
    with pytest.raises(ValueError, match="no scores"):
        propose_labels([])


def test_clean_row_is_the_unmarked_image(make_oracle) -> None:
    oracle = make_oracle()
    assert oracle.query([CLEAN], [0]).shape == (1, 1, 10)
