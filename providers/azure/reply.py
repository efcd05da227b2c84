"""Reading an Image Analysis reply into ``Scores``: tags above the service's threshold.

The SDK hands back whatever JSON the service sent (its result object is a mapping over
the raw reply), so every field is checked here: a reply without a model version or a
tags result, or with a tag that is not a name and a probability, is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from providers.scores import OutputMode, Scores


class MalformedReplyError(ValueError):
    """The reply is not the shape the service documents; the message says where."""


def parse_tags(reply: object, *, threshold: float | None = None) -> Scores:
    """``Scores`` in threshold mode from an analyze reply; ``extra["model"]`` = ``modelVersion``.

    A tag the service did not return is absent from the scores. Raises
    ``MalformedReplyError`` naming the offending field.
    """
    if not isinstance(reply, Mapping):
        raise MalformedReplyError(f"the reply is not a JSON object but {type(reply).__name__}")
    model = reply.get("modelVersion")
    if not isinstance(model, str) or not model:
        raise MalformedReplyError(f"modelVersion is missing or not a string: {model!r:.80}")
    tags = reply.get("tagsResult")
    values = tags.get("values") if isinstance(tags, Mapping) else None
    if not isinstance(values, list):
        raise MalformedReplyError(f"tagsResult.values is missing or not a list: {tags!r:.120}")
    scores: dict[str, float] = {}
    for index, tag in enumerate(values):
        where = f"tagsResult.values[{index}]"
        if not isinstance(tag, Mapping):
            raise MalformedReplyError(f"{where} is not an object: {tag!r:.80}")
        name, confidence = tag.get("name"), tag.get("confidence")
        if not isinstance(name, str) or not name:
            raise MalformedReplyError(f"{where}.name is missing or not a string: {name!r:.80}")
        if (
            isinstance(confidence, bool)
            or not isinstance(confidence, int | float)
            or not math.isfinite(confidence)
            or not 0.0 <= confidence <= 1.0
        ):
            raise MalformedReplyError(
                f"{where}.confidence of {name!r} is not a probability: {confidence!r:.80}"
            )
        if name in scores:
            raise MalformedReplyError(f"{where}: tag {name!r} appears twice")
        scores[name] = float(confidence)
    return Scores(values=scores, mode=OutputMode.THRESHOLD, threshold=threshold, model=model)
