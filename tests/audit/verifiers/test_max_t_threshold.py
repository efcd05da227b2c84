"""Max-T on threshold output (a tagger): rare tags neither tie with the true mark's
label nor win ties by their position, the false-positive rate holds, and power on the
mock in threshold mode does not drop (it rises) against plain standardization."""

from __future__ import annotations

import numpy as np

from audit.queries.oracle import TRUE_MARK
from audit.verifiers.label_scan import LabelScan
from audit.verifiers.mark_statistic import MarkStatistic
from audit.verifiers.max_t import max_t
from audit.verifiers.protocol import Question
from audit.verifiers.simulated_oracle import SimulatedOracle
from audit.verifiers.simulation import largest_count_consistent
from audit.verifiers.verdict import Verdict

K = 99
LEVEL = 0.01


def plain_max_t_p(statistics: np.ndarray) -> float:
    """The max-T p-value with each column divided by its own spread only (no floor,
    exact float comparisons): the reference the floor is measured against."""
    s = np.asarray(statistics, dtype=float)
    spread = s.std(axis=0, ddof=1, keepdims=True)
    z = np.where(spread > 0, (s - s.mean(axis=0)) / np.where(spread > 0, spread, 1.0), 0.0)
    maxima = z.max(axis=1)
    return float((1 + np.sum(maxima[1:] >= maxima[0])) / len(maxima))


def tagger(seed: int, effect: float, labels: int) -> SimulatedOracle:
    return SimulatedOracle(
        effect=effect,
        seed=seed,
        n_external=K,
        n_images=20,
        n_labels=labels,
        statistic="confidence",
        threshold=0.1,
    )


def per_mark(oracle: SimulatedOracle) -> np.ndarray:
    """(marks, labels) means over the scan's five images, as ``LabelScan`` computes them."""
    scores = oracle.query([TRUE_MARK, *range(1, K + 1)], np.arange(5))
    return MarkStatistic().values(scores, oracle.statistic).mean(axis=1)


def test_a_tag_returned_once_does_not_tie_with_a_shifted_label() -> None:
    s = np.zeros((K + 1, 3))
    s[:, 0] = np.random.default_rng(0).normal(0.5, 0.05, K + 1)  # a common tag
    s[0, 0] = 0.9  # the true mark moved it by eight spreads
    s[7, 1] = 0.05  # external 7: an odd tag of its own, once, just above the threshold
    s[42, 2] = 0.04  # external 42: another
    assert plain_max_t_p(s) > 2 / (K + 1)  # plain: the odd tags reach the true mark
    evidence = max_t(s)
    assert evidence.p_value == 1 / (K + 1) and evidence.best == 0


def test_exact_ties_count_against_the_true_mark_wherever_it_sits() -> None:
    # Three marks each alone on a tag, alike: their z are equal in exact arithmetic
    # (the largest a column allows) but not in floats, by an amount that depends on
    # where the row sits; compared exactly, the first row wins the tie.
    s = np.zeros((K + 1, 3))
    s[0, 0] = s[30, 1] = s[99, 2] = 0.83
    assert plain_max_t_p(s) == 1 / (K + 1)
    for row in (0, 30, 99):
        order = [row, *[i for i in range(K + 1) if i != row]]
        assert max_t(s[order]).p_value == 3 / (K + 1)


def test_the_false_positive_rate_holds_on_a_tagger_with_many_tags() -> None:
    audits = 400
    detected = sum(
        LabelScan(externals=K, level=LEVEL).run(tagger(9000 + i, 0.0, 100), Question()).verdict
        is Verdict.DETECTED
        for i in range(audits)
    )
    assert detected <= largest_count_consistent(audits, LEVEL)


def test_power_in_threshold_mode_does_not_drop() -> None:
    """The same models for both: ten labels (the mock's default) and a hundred."""
    for labels, effect, audits, least_gain in ((10, 3.3, 150, 0), (100, 5.0, 60, 20)):
        floor = plain = 0
        for i in range(audits):
            s = per_mark(tagger(i, effect, labels))
            floor += max_t(s).p_value <= LEVEL
            plain += plain_max_t_p(s) <= LEVEL
        assert floor >= plain + least_gain, (labels, floor, plain)
