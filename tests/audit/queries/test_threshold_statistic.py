"""Threshold output: the confidence-or-0 statistic, open vocabularies, and settling both."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from audit.errors import UnknownLabelError
from audit.inputs.aux_images import load_aux_images
from audit.queries.oracle import CLEAN, TRUE_MARK
from audit.queries.provider_oracle import (
    CONFIDENCE,
    LOG_PROB,
    NEG_RANK,
    ProviderOracle,
)
from audit.queries.vocabulary import needs_probe, resolve_vocabulary, statistic_for
from marks.kinds import make_mark
from providers.errors import BadReplyError
from providers.mock.classifier import MockClassifier
from providers.query import QueryImage
from providers.scores import OutputMode, Scores

LABELS = ["cat", "dog", "ship"]


@pytest.fixture
def aux(tmp_path, make_image_folder):
    make_image_folder(tmp_path / "aux", 6)
    return load_aux_images(tmp_path / "aux")


@pytest.fixture
def marks():
    return [make_mark(f"m{i}", "procedural", seed=i + 1) for i in range(3)]


def probabilities(image: QueryImage) -> dict[str, float]:
    """Deterministic probabilities of ``LABELS`` from the image's bytes."""
    seed = int.from_bytes(hashlib.sha256(image.data).digest()[:8], "little")
    raw = np.random.default_rng(seed).random(len(LABELS)) + 0.1
    return dict(zip(LABELS, raw / raw.sum(), strict=True))


def above(threshold: float):
    """Replies keeping the probabilities at or above ``threshold``."""

    def reply(image: QueryImage) -> Scores:
        probs = probabilities(image)
        kept = {label: p for label, p in probs.items() if p >= threshold}
        return Scores(kept, mode=OutputMode.THRESHOLD, threshold=threshold)

    return reply


def by_mark(image: QueryImage) -> Scores:
    """A tagger whose tags name the mark it sees: every mark brings a tag of its own."""
    tags = {"sky": 0.9} if image.mark is None else {"sky": 0.5, f"t-{image.mark[:6]}": 0.4}
    return Scores(tags, mode=OutputMode.THRESHOLD, threshold=0.3)


def test_confidence_is_the_score_or_zero_for_every_mark_alike(aux, marks, fake_classifier):
    reply = above(0.3)
    fake = fake_classifier(reply=reply)
    oracle = ProviderOracle(
        fake, aux, marks, 0.4, labels=LABELS, statistic=CONFIDENCE, exchangeable=True
    )
    out = oracle.query([TRUE_MARK, 1, 2, CLEAN], range(6))
    sent = {(q.mark, q.base): q for q in fake.sent}
    fingerprints = [m.fingerprint for m in marks] + [None]
    absent = 0
    for a, fingerprint in enumerate(fingerprints):
        for b in range(6):
            values = reply(sent[(fingerprint, aux.ids[b])]).values
            expected = [values.get(label, 0.0) for label in LABELS]
            np.testing.assert_array_equal(out[a, b], expected)
            absent += len(LABELS) - len(values)
    assert absent > 0  # some labels were below the threshold, and scored 0


def test_a_probability_statistic_refuses_threshold_output_naming_confidence(
    aux, marks, fake_classifier
):
    fake = fake_classifier(reply=above(0.3))
    oracle = ProviderOracle(
        fake, aux, marks, 0.4, labels=LABELS, statistic=LOG_PROB, exchangeable=True
    )
    with pytest.raises(BadReplyError, match=r"above its threshold.*'confidence'"):
        oracle.query([TRUE_MARK], [0])


def test_a_confidence_outside_zero_one_is_refused(aux, marks, fake_classifier):
    fake = fake_classifier(reply=lambda image: Scores({"cat": 3.0}, mode=OutputMode.THRESHOLD))
    oracle = ProviderOracle(
        fake, aux, marks, 0.4, labels=LABELS, statistic=CONFIDENCE, exchangeable=True
    )
    with pytest.raises(BadReplyError, match=r"label 'cat' has confidence 3\.0"):
        oracle.query([1], [2])


def test_an_open_vocabulary_grows_by_the_tags_returned(aux, marks, fake_classifier):
    fake = fake_classifier(reply=by_mark, known_labels=False)
    oracle = ProviderOracle(
        fake,
        aux,
        marks,
        0.4,
        labels=[],
        statistic=CONFIDENCE,
        open_vocabulary=True,
        exchangeable=True,
    )
    first = oracle.query([TRUE_MARK], [0, 1])
    own = f"t-{marks[0].fingerprint[:6]}"
    assert oracle.labels == sorted(["sky", own]) and first.shape == (1, 2, 2)
    j = oracle.labels.index(own)
    out = oracle.query([TRUE_MARK, 1, 2], [0, 1])
    # New tags are appended: an index read earlier still points at the same label.
    assert oracle.labels[:2] == sorted(["sky", own]) and oracle.labels.index(own) == j
    assert len(oracle.labels) == 4 and out.shape == (3, 2, 4)
    assert oracle.returned == set(oracle.labels)
    for a, mark in enumerate(marks):
        tag = oracle.labels.index(f"t-{mark.fingerprint[:6]}")
        assert (out[a, :, tag] == 0.4).all()
        others = [k for k in range(4) if k not in (tag, oracle.labels.index("sky"))]
        assert (out[a][:, others] == 0.0).all()  # tags first seen later score 0, not stale
    assert len(fake.sent) == 6  # growing the labels re-scores stored replies, sends nothing


def test_a_closed_vocabulary_only_records_what_came_back(aux, marks, fake_classifier):
    fake = fake_classifier(reply=by_mark, known_labels=False)
    oracle = ProviderOracle(
        fake, aux, marks, 0.4, labels=["sky"], statistic=NEG_RANK, exchangeable=True
    )
    out = oracle.query([TRUE_MARK, 1], [0])
    assert oracle.labels == ["sky"] and out.shape == (2, 1, 1) and (out == -1.0).all()
    assert "sky" in oracle.returned and len(oracle.returned) == 3


@pytest.mark.parametrize(
    ("known", "statistic", "audited", "probe"),
    [
        (True, LOG_PROB, ["cat"], False),
        (False, LOG_PROB, ["cat"], True),  # full or threshold? one clean query says
        (False, NEG_RANK, ["cat"], False),
        (False, CONFIDENCE, ["cat"], False),
        (False, NEG_RANK, [], True),  # a scan of an unlisted vocabulary
        (True, LOG_PROB, [], False),
    ],
)
def test_when_a_probe_is_sent(known, statistic, audited, probe):
    assert needs_probe(known, statistic, audited) is probe


def test_statistic_for_each_output():
    assert statistic_for(LOG_PROB, OutputMode.THRESHOLD) == CONFIDENCE
    assert statistic_for(LOG_PROB, OutputMode.FULL) == LOG_PROB
    assert statistic_for(LOG_PROB, None) == LOG_PROB
    assert statistic_for(NEG_RANK, OutputMode.THRESHOLD) == NEG_RANK


def test_a_tagger_that_lists_nothing_gets_an_open_vocabulary(aux, fake_classifier):
    scan = resolve_vocabulary(
        fake_classifier(reply=above(0.3), known_labels=False),
        aux,
        statistic=LOG_PROB,
        audited=[],
    )
    assert (scan.labels, scan.statistic, scan.open, scan.listed) == ([], CONFIDENCE, True, False)
    tagger = fake_classifier(reply=above(0.3), known_labels=False)
    one = resolve_vocabulary(tagger, aux, statistic=LOG_PROB, audited=["Cat"])
    # Any tag may exist: the audited one is scored as given, and a note says if unseen.
    assert (one.labels, one.statistic, one.open) == (["Cat"], CONFIDENCE, False)
    assert tagger.calls == 1
    [note] = one.unseen_notes(["Cat"], {"cat", "dog"})
    assert "'Cat' did not come back in any reply" in note
    assert one.unseen_notes(["Cat"], {"Cat"}) == []


def test_a_listing_threshold_service_is_scored_on_its_labels(aux):
    mock = MockClassifier(LABELS, mode="threshold", threshold=0.2)
    vocabulary = resolve_vocabulary(mock, aux, statistic=LOG_PROB, audited=["cat"])
    assert (vocabulary.labels, vocabulary.statistic, vocabulary.open) == (
        LABELS,
        CONFIDENCE,
        False,
    )
    assert mock.calls == 0  # the mode is declared in its parameters: nothing sent
    assert vocabulary.unseen_notes(["cat"], set()) == []  # a listed label is a real label
    with pytest.raises(UnknownLabelError, match="label 'horse' is not one of"):
        resolve_vocabulary(mock, aux, statistic=LOG_PROB, audited=["horse"])


def test_unlisted_full_and_top_k_services(aux, fake_classifier, top_k_scores):
    full = resolve_vocabulary(
        fake_classifier(known_labels=False), aux, statistic=LOG_PROB, audited=["dog"]
    )
    assert (full.labels, full.statistic, full.open) == (sorted(LABELS), LOG_PROB, False)
    with pytest.raises(UnknownLabelError, match="label 'horse' is not one of"):
        resolve_vocabulary(
            fake_classifier(known_labels=False), aux, statistic=LOG_PROB, audited=["horse"]
        )
    with pytest.raises(UnknownLabelError, match=r"top_k output; audit it with .*audit rank"):
        resolve_vocabulary(
            fake_classifier(reply=top_k_scores, known_labels=False),
            aux,
            statistic=LOG_PROB,
            audited=["dog"],
        )


def scan_oracle(aux, fake_classifier, reply):
    marks = [make_mark(f"m{i}", "procedural", seed=i + 1) for i in range(20)]
    fake = fake_classifier(reply=reply, known_labels=False)
    return ProviderOracle(
        fake,
        aux,
        marks,
        0.4,
        labels=[],
        statistic=CONFIDENCE,
        open_vocabulary=True,
        exchangeable=True,
    ), marks


def test_a_scan_of_an_open_vocabulary_scans_the_tags_that_came_back(aux, fake_classifier):
    from audit.verifiers.label_scan import LabelScan
    from audit.verifiers.protocol import Question

    holder: list[str] = []

    def reply(image: QueryImage) -> Scores:
        # Only the person's mark brings the tag "portrait" back.
        tags = {"sky": 0.5} | ({"portrait": 0.6} if image.mark == holder[0] else {})
        return Scores(tags, mode=OutputMode.THRESHOLD, threshold=0.3)

    oracle, marks = scan_oracle(aux, fake_classifier, reply)
    holder.append(marks[0].fingerprint)
    assert oracle.labels == []  # nothing is known before the scan's queries
    result = LabelScan(n=2, externals=19, level=0.05).run(oracle, Question())
    assert result.details["labels"] == ["portrait", "sky"]
    assert result.verdict.value == "detected" and result.label == "portrait"
    assert result.p_value == pytest.approx(1 / 20)


def test_a_scan_where_no_tag_ever_came_back_detects_nothing(aux, fake_classifier):
    from audit.verifiers.label_scan import LabelScan
    from audit.verifiers.protocol import Question

    def reply(image: QueryImage) -> Scores:
        return Scores({}, mode=OutputMode.THRESHOLD, threshold=0.3)

    oracle, _ = scan_oracle(aux, fake_classifier, reply)
    result = LabelScan(n=2, externals=19, level=0.05).run(oracle, Question())
    assert result.verdict.value == "not_detected" and result.p_value == 1.0
    assert result.details["labels"] == [] and oracle.queries_used() == 40
