"""The oracle sends each round's (mark, image) pairs in a shuffled, seeded order."""

from __future__ import annotations

import numpy as np
import pytest

from audit.inputs.aux_images import load_aux_images
from audit.queries.provider_oracle import ProviderOracle
from audit.runner.query_order import ORDER_FILE, record_order_seed
from marks.kinds import make_mark

LABELS = ["cat", "dog", "ship"]


@pytest.fixture
def setup(tmp_path, make_image_folder):
    make_image_folder(tmp_path / "aux", 6)
    aux = load_aux_images(tmp_path / "aux")
    marks = [make_mark(f"m{i}", "procedural", seed=10 + i) for i in range(5)]
    return aux, marks


def sent_marks(fake, marks) -> list[int]:
    index = {mark.fingerprint: i for i, mark in enumerate(marks)}
    return [index[q.mark] for q in fake.sent]


def oracle(classifier, aux, marks, seed):
    return ProviderOracle(
        classifier, aux, marks, 0.4, labels=LABELS, exchangeable=True, order_seed=seed
    )


def test_every_batch_mixes_marks_and_the_answers_keep_their_places(setup, fake_classifier):
    aux, marks = setup
    fake = fake_classifier(max_batch=30)
    shuffled = oracle(fake, aux, marks, seed=3)
    out = shuffled.query(range(5), range(6))
    order = sent_marks(fake, marks)
    assert sorted(order) == sorted([m for m in range(5) for _ in range(6)])
    # The true mark's six queries do not go out first, as one block.
    assert order[:6] != [0] * 6
    for start in range(0, 30, 5):  # any five consecutive requests hold several marks
        assert len(set(order[start : start + 5])) >= 2
    # The statistics are where the verifier asked for them, whatever the order sent.
    plain = fake_classifier(max_batch=30)
    expected = oracle(plain, aux, marks, seed=4).query(range(5), range(6))
    np.testing.assert_array_equal(out, expected)
    assert sent_marks(plain, marks) != order  # another seed, another order


def test_the_same_seed_sends_the_same_order(setup, fake_classifier):
    aux, marks = setup
    first, second = fake_classifier(), fake_classifier()
    oracle(first, aux, marks, seed=9).query(range(5), range(6))
    oracle(second, aux, marks, seed=9).query(range(5), range(6))
    assert [q.digest for q in first.sent] == [q.digest for q in second.sent]
    fresh = ProviderOracle(fake_classifier(), aux, marks, 0.4, labels=LABELS, exchangeable=True)
    assert isinstance(fresh.order_seed, int)  # drawn when not given, to be recorded


def test_the_seed_is_kept_private_in_the_workspace(tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir(mode=0o700)
    path = record_order_seed(workspace, 12345, workspace / "reports" / "r1")
    record_order_seed(workspace, 678, None)
    assert path == workspace / ORDER_FILE and path.stat().st_mode & 0o077 == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and '"seed": 12345' in lines[0] and "r1" in lines[0]
