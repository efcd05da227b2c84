"""Which labels an audit scores, and with which statistic, settled before its first query.

A service that lists its labels is scored on them. One that does not (an image tagger
with thousands of tags, or a private model) is asked once with a clean auxiliary
image, when the audit needs to know more than its own labels: full output then lists
every label, while threshold or top-K output shows only a few, so the vocabulary stays
open: an audit of named labels scores just those, and a label scan scores the union of
the tags its own queries bring back (``ProviderOracle(open_vocabulary=True)``).

What the service returns also settles the statistic of a probability audit: the
log-probability for full output; for threshold output, where a tag below the cut-off
is absent, the tag's confidence with 0 when absent (``CONFIDENCE``). Either is one
fixed function of each reply, the same for every mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from audit.errors import UnknownLabelError, VerifierOptionError
from audit.inputs.aux_images import AuxImages
from audit.queries.provider_oracle import (
    CONFIDENCE,
    LOG_PROB,
    STATISTICS,
    check_label,
)
from providers.classifier import Classifier
from providers.query import QueryImage
from providers.scores import OutputMode


@dataclass(frozen=True)
class Vocabulary:
    """The labels to score from the start, whether more may join, and the statistic.

    ``mode`` is the output the service was seen (or declares) to return; None when
    neither is known (full output is assumed, and the oracle refuses anything else).
    """

    labels: list[str]
    statistic: str
    open: bool
    mode: OutputMode | None
    listed: bool = True  # False: the service's labels are unknown (audited ones unchecked)

    def unseen_notes(self, audited: Sequence[str], returned: set[str]) -> list[str]:
        """Remarks on audited labels that no reply carried, when they could not be checked."""
        if self.listed:
            return []
        return [
            f"label {label!r} did not come back in any reply, so it scored 0 (or the last "
            "rank) for every mark; check its spelling against the service's own tags"
            for label in audited
            if label not in returned
        ]


def declared_mode(classifier: Classifier) -> OutputMode | None:
    """The output mode ``classifier.parameters`` declares (``"mode"``), if it declares one."""
    mode = classifier.parameters.get("mode")
    try:
        return OutputMode(str(mode)) if mode is not None else None
    except ValueError:
        return None


def needs_probe(labels_known: bool, statistic: str, audited: Sequence[str]) -> bool:
    """Whether one clean query must be sent first: to list the labels, or to see whether
    a probability audit gets full or threshold output from a service that lists none."""
    return not labels_known and (statistic == LOG_PROB or not audited)


def statistic_for(requested: str, mode: OutputMode | None) -> str:
    """The statistic to score replies of ``mode`` with, for an audit that asked for
    ``requested``: a probability audit of threshold output uses ``CONFIDENCE``."""
    if requested == LOG_PROB and mode is OutputMode.THRESHOLD:
        return CONFIDENCE
    return requested


def resolve_vocabulary(
    classifier: Classifier, aux: AuxImages, *, statistic: str, audited: Sequence[str]
) -> Vocabulary:
    """The ``Vocabulary`` of an audit of ``audited`` labels (none: a scan) on ``classifier``.

    Sends at most one query (see ``needs_probe``), a clean auxiliary image. Raises
    ``UnknownLabelError`` for an audited label a listing service does not have, or when
    log-probabilities are asked of a service that shows only its top K.
    """
    if statistic not in STATISTICS:
        raise VerifierOptionError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    known = classifier.labels()
    mode = declared_mode(classifier)
    if needs_probe(bool(known), statistic, audited):
        probe = QueryImage.from_array(aux.images[0], base=aux.ids[0])
        reply = classifier.classify([probe])[0]
        mode = reply.mode
        if mode is OutputMode.FULL:
            known = sorted(reply.values)
    chosen = statistic_for(statistic, mode)
    if known:
        for label in audited:
            check_label(label, known)
        return Vocabulary(list(known), chosen, False, mode, listed=True)
    if chosen == LOG_PROB and mode is not None and mode is not OutputMode.FULL:
        raise UnknownLabelError(
            "the provider does not list its labels and returns only "
            f"{mode.value} output; audit it with `isotope audit rank`"
        )
    # An open vocabulary: any tag may exist, so an audited label cannot be checked.
    return Vocabulary(list(audited), chosen, not audited, mode, listed=False)
