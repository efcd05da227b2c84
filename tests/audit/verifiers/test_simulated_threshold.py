"""The simulated oracle's threshold mode scores what a tagger returns: confidence or 0."""

from __future__ import annotations

import numpy as np
import pytest

from audit.queries.oracle import CLEAN, TRUE_MARK


def test_confidence_is_the_probability_at_or_above_the_threshold_else_zero(make_oracle):
    marks, images = [TRUE_MARK, 1, 2, CLEAN], range(20)
    probabilities = np.exp(make_oracle(statistic="log_prob").query(marks, images))
    confidences = make_oracle(statistic="confidence", threshold=0.1).query(marks, images)
    np.testing.assert_allclose(
        confidences, np.where(probabilities >= 0.1, probabilities, 0.0), rtol=1e-12
    )
    assert (confidences == 0.0).any() and (confidences > 0.0).any()


@pytest.mark.parametrize("threshold", [None, 0.0, 1.0])
def test_confidence_needs_a_threshold(make_oracle, threshold):
    with pytest.raises(ValueError, match="needs 0 < threshold < 1"):
        make_oracle(statistic="confidence", threshold=threshold)
