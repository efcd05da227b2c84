"""The ScoreOracle over a provider: blending, statistics, reply validation, aux folders."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from audit.errors import BudgetExhausted
from audit.inputs.aux_images import AuxImagesError, load_aux_images
from audit.queries.oracle import CLEAN, TRUE_MARK
from audit.queries.provider_oracle import (
    LOG_PROB,
    NEG_RANK,
    ProviderOracle,
    UnknownLabelError,
    check_label,
)
from audit.queries.vocabulary import resolve_vocabulary
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger, LedgeredClassifier
from marks.blend import blend
from marks.kinds import make_mark
from providers.errors import BadReplyError
from providers.scores import Scores

LABELS = ["cat", "dog", "ship"]


@pytest.fixture
def aux(tmp_path, make_image_folder):
    make_image_folder(tmp_path / "aux", 6)
    return load_aux_images(tmp_path / "aux")


@pytest.fixture
def marks():
    return [make_mark("mine", "procedural", seed=1), make_mark("ext", "procedural", seed=2)]


def oracle_for(classifier, aux, marks, statistic=LOG_PROB, labels=LABELS):
    return ProviderOracle(
        classifier, aux, marks, 0.4, labels=labels, statistic=statistic, exchangeable=True
    )


def test_statistics_are_log_probabilities_of_fresh_blends(aux, marks, fake_classifier):
    fake = fake_classifier()
    oracle = oracle_for(fake, aux, marks)
    out = oracle.query([TRUE_MARK, 1, CLEAN], [0, 2])
    assert out.shape == (3, 2, 3)
    sent = {(q.mark, q.base): q for q in fake.sent}
    assert len(sent) == 6 and oracle.queries_used() == 6
    # Each query is the clean image blended once with one mark, nothing else.
    query = sent[(marks[0].fingerprint, aux.ids[2])]
    np.testing.assert_array_equal(query.to_array(), blend(aux.images[2], marks[0], 0.4))
    assert sent[(None, aux.ids[0])].to_array().tobytes() == aux.images[0].tobytes()
    from_reply = fake._reply(query).values
    np.testing.assert_allclose(out[0, 1], [math.log(from_reply[label]) for label in LABELS])
    # Repeated pairs are answered from memory, not re-sent.
    oracle.query([TRUE_MARK], [0, 2])
    assert len(fake.sent) == 6


def test_neg_rank_statistic_from_top_k(aux, marks, fake_classifier, top_k_scores):
    fake = fake_classifier(reply=top_k_scores)
    out = oracle_for(fake, aux, marks, statistic=NEG_RANK).query([TRUE_MARK], range(6))
    assert set(np.unique(out)) <= {-1.0, -2.0, -3.0}
    assert (out == -3.0).sum() == 6  # one label per image is absent: rank K + 1 = 3


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"cat": 0.5, "dog": 0.5}, "label 'ship' is missing"),
        ({"cat": 0.5, "dog": 0.2, "ship": 0.1}, "probabilities sum to 0.8000, not 1"),
        ({"cat": 1.5, "dog": -0.25, "ship": -0.25}, "label 'cat' has probability 1.5"),
    ],
)
def test_bad_replies_name_image_and_label(aux, marks, fake_classifier, values, problem):
    fake = fake_classifier(reply=lambda image: Scores(values))
    with pytest.raises(BadReplyError) as info:
        oracle_for(fake, aux, marks).query([1], [3])
    message = str(info.value)
    assert problem in message
    assert f"auxiliary image {aux.names[3]} with external mark 1" in message


def test_top_k_reply_to_a_probability_audit_points_to_rank(
    aux, marks, fake_classifier, top_k_scores
):
    fake = fake_classifier(reply=top_k_scores)
    with pytest.raises(BadReplyError, match=r"top_k output.*isotope audit rank"):
        oracle_for(fake, aux, marks).query([TRUE_MARK], [0])


def test_tiny_probabilities_are_clipped_not_minus_infinity(aux, marks, fake_classifier):
    fake = fake_classifier(reply=lambda image: Scores({"cat": 0.0, "dog": 0.5, "ship": 0.5}))
    out = oracle_for(fake, aux, marks).query([TRUE_MARK], [0])
    assert np.isfinite(out).all() and out[0, 0, 0] == pytest.approx(math.log(1e-6))


def test_labels_from_the_model_or_a_probe(aux, fake_classifier):
    def labels(classifier):
        return resolve_vocabulary(classifier, aux, statistic=LOG_PROB, audited=[]).labels

    assert labels(fake_classifier()) == LABELS
    unknown = fake_classifier(known_labels=False)
    assert labels(unknown) == sorted(LABELS) and unknown.calls == 1
    with pytest.raises(UnknownLabelError, match="label 'horse' is not one of the model's 3"):
        check_label("horse", LABELS)


def test_aux_folder_problems(tmp_path, make_image_folder):
    with pytest.raises(AuxImagesError, match="does not exist"):
        load_aux_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    with pytest.raises(AuxImagesError, match="holds no images"):
        load_aux_images(tmp_path / "empty")
    make_image_folder(tmp_path / "only_j" / "cat", 3)
    with pytest.raises(AuxImagesError, match=r"every image in .* is of the audited label 'cat'"):
        load_aux_images(tmp_path / "only_j", exclude_labels=["cat"])
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"not a png")
    with pytest.raises(AuxImagesError, match=r"no usable image.*1 unreadable"):
        load_aux_images(bad)


def test_aux_skips_unreadable_excludes_label_and_checks_n(tmp_path, make_image_folder):
    make_image_folder(tmp_path / "aux" / "dog", 4)
    make_image_folder(tmp_path / "aux" / "cat", 3, seed=1)
    (tmp_path / "aux" / "dog" / "zz.jpg").write_bytes(b"\xff\xd8broken")
    big = np.zeros((1200, 600, 3), np.uint8)
    Image.fromarray(big).save(tmp_path / "aux" / "big.png")
    aux = load_aux_images(tmp_path / "aux", exclude_labels=["cat"])
    assert len(aux) == 5 and len(aux.excluded) == 3
    assert [name for name, _ in aux.skipped] == ["dog/zz.jpg"]
    assert aux.images[aux.names.index("big.png")].shape == (512, 256, 3)  # downscaled
    assert len(set(aux.ids)) == 5  # ids are content digests: distinct images, distinct ids
    aux.require(5)
    with pytest.raises(AuxImagesError, match="--n 6 is larger than the 5 usable images"):
        aux.require(6)


def test_a_query_the_budget_cannot_cover_spends_nothing(tmp_path, aux, marks, fake_classifier):
    fake = fake_classifier(max_batch=2)
    budget = Budget(5, None, 0.0)
    oracle = oracle_for(LedgeredClassifier(fake, Ledger(tmp_path / "l.sqlite"), budget), aux, marks)
    with pytest.raises(BudgetExhausted):
        oracle.query([TRUE_MARK, 1, CLEAN], [0, 1])  # 6 pairs: the whole query or nothing
    assert fake.calls == 0 and budget.spent_queries == 0 and oracle.queries_used() == 0
    oracle.query([TRUE_MARK, 1], [0, 1])
    assert fake.calls == 2 and oracle.queries_used() == 4
