"""Is a reply fit to be kept as an answer? Checked before it enters the ledger.

A reply is cached for ever: one a service got wrong (negative scores, probabilities
that do not sum to 1) would otherwise answer every rerun, even after the service is
fixed. So a reply is stored as an answer only when every score lies in [0, 1], a full
distribution sums to 1, and a top-K reply holds at most K labels summing to at most 1.
"""

from __future__ import annotations

from providers.scores import OutputMode, Scores

# The same slack the probability statistic allows (audit.queries.provider_oracle):
# services round their confidences.
SUM_TOLERANCE = 0.02
SCORE_SLACK = 1e-9


def reply_problem(reply: Scores) -> str | None:
    """Why ``reply`` cannot be kept as an answer, in a few words; None when it can."""
    values = reply.values
    for label, value in values.items():
        if not -SCORE_SLACK <= value <= 1.0 + SUM_TOLERANCE:
            return f"score {value!r} of label {label!r} is outside [0, 1]"
    total = float(sum(values.values()))
    if reply.mode is OutputMode.FULL:
        if not values:
            return "a full reply with no label"
        if abs(total - 1.0) > SUM_TOLERANCE:
            return f"the probabilities sum to {total:.4f}, not 1 (±{SUM_TOLERANCE})"
    elif reply.mode is OutputMode.TOP_K:
        if reply.k is not None and len(values) > reply.k:
            return f"{len(values)} labels in a top-{reply.k} reply"
        if total > 1.0 + SUM_TOLERANCE:
            return f"the top labels' probabilities sum to {total:.4f}, more than 1"
    return None
