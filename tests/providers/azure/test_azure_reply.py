"""Replies read into threshold-mode ``Scores``; every malformed shape refused by name."""

from __future__ import annotations

import math

import pytest

from providers.azure.reply import MalformedReplyError, parse_tags
from providers.scores import OutputMode


def _reply(values: object, model: object = "2023-10-01") -> dict:
    return {"modelVersion": model, "metadata": {"width": 64, "height": 64},
            "tagsResult": {"values": values}}  # fmt: skip


def test_tags_become_threshold_scores_with_the_model_version():
    scores = parse_tags(
        _reply(
            [{"name": "outdoor", "confidence": 0.99}, {"name": "real estate", "confidence": 0.5}]
        ),
        threshold=0.4,
    )
    assert scores.values == {"outdoor": 0.99, "real estate": 0.5}
    assert scores.mode is OutputMode.THRESHOLD and scores.threshold == 0.4
    assert scores.model == "2023-10-01" and scores.extra == {}
    assert scores.get("indoor") is None and scores.rank("indoor") == 3


def test_no_tag_above_the_threshold_is_an_empty_reply_not_an_error():
    scores = parse_tags(_reply([]))
    assert scores.values == {} and scores.model == "2023-10-01"


@pytest.mark.parametrize(
    ("reply", "where"),
    [
        ([1, 2], "not a JSON object but list"),
        (None, "not a JSON object but NoneType"),
        ({"tagsResult": {"values": []}}, "modelVersion"),
        (_reply([], model=3), "modelVersion"),
        (_reply([], model=""), "modelVersion"),
        ({"modelVersion": "v"}, "tagsResult.values"),
        (_reply(5), "tagsResult.values"),
        (_reply(["sky"]), r"tagsResult.values\[0\] is not an object"),
        (_reply([{"confidence": 0.5}]), r"values\[0\].name"),
        (_reply([{"name": "", "confidence": 0.5}]), r"values\[0\].name"),
        (_reply([{"name": "sky", "confidence": "0.5"}]), "not a probability"),
        (_reply([{"name": "sky", "confidence": True}]), "not a probability"),
        (_reply([{"name": "sky", "confidence": math.nan}]), "not a probability"),
        (_reply([{"name": "sky", "confidence": 1.5}]), "not a probability"),
        (_reply([{"name": "sky", "confidence": -0.1}]), "not a probability"),
        (_reply([{"name": "sky", "confidence": 0.5}, {"name": "sky", "confidence": 0.4}]),
         r"values\[1\]: tag 'sky' appears twice"),
    ],
)  # fmt: skip
def test_malformed_replies_name_what_is_wrong(reply, where):
    with pytest.raises(MalformedReplyError, match=where):
        parse_tags(reply)
