"""The real SDK against the fake: tags, absent tags, model identity, the request sent."""

from __future__ import annotations

import numpy as np
import pytest

from providers.classifier import Classifier
from providers.scores import OutputMode

TAGS = ("sky", "grass", "sand", "snow")


@pytest.mark.parametrize("tag", TAGS)
def test_each_scene_gets_its_tag_and_no_other(make_tagger, query, tag):
    tagger = make_tagger()
    [scores] = tagger.classify([query(tag, seed=3)])
    assert scores.mode is OutputMode.THRESHOLD
    assert set(scores.values) == {tag}
    assert 0.3 <= scores.values[tag] <= 1.0
    for other in set(TAGS) - {tag}:
        assert scores.get(other) is None  # absent, not 0
    assert scores.rank(tag) == 1
    assert scores.rank(next(iter(set(TAGS) - {tag}))) == 2


def test_scores_match_the_fake_model_exactly(make_tagger, fake, query):
    tagger = make_tagger()
    images = [query(tag, seed=11) for tag in TAGS]
    replies = tagger.classify(images)
    assert len(replies) == len(images)
    for image, scores in zip(images, replies, strict=True):
        pixels = fake.predictor.decode(image.data)
        probabilities = fake.predictor.predict(np.stack([pixels]))[0]
        expected = {
            name: float(p)
            for name, p in zip(fake.predictor.labels, probabilities, strict=True)
            if p >= fake.threshold
        }
        assert scores.values.keys() == expected.keys()
        for name, value in expected.items():
            assert scores.values[name] == pytest.approx(value, abs=1e-6)


def test_every_reply_carries_its_model_version(make_tagger, fake, query):
    tagger = make_tagger()
    [before] = tagger.classify([query("sky")])
    fake.model_version = "2031-02-03-preview"
    [after] = tagger.classify([query("sky")])
    assert before.model == "2023-10-01"
    assert after.model == "2031-02-03-preview"
    assert after.to_json()["model"] == "2031-02-03-preview"


def test_the_request_is_the_documented_rest_call(make_tagger, fake, query):
    tagger = make_tagger(language="en", model_version="2023-10-01")
    before = len(fake.served)
    image = query("grass")
    tagger.classify([image])
    [seen] = fake.served[before:]
    assert seen.status == 200 and seen.key_ok
    assert seen.params == {
        "api-version": "2023-10-01",
        "features": "tags",
        "language": "en",
        "model-version": "2023-10-01",
    }
    assert seen.content_type == "application/octet-stream"
    assert seen.body_sha256 == image.digest  # a 64×64 PNG fits: sent byte for byte


def test_a_pinned_model_the_service_lacks_is_a_permanent_error(make_tagger, query):
    from providers.errors import BadImageError, PermanentError

    tagger = make_tagger(model_version="1999-01-01")
    with pytest.raises(PermanentError, match="InvalidModelVersion") as caught:
        tagger.classify([query("sky")])
    assert not isinstance(caught.value, BadImageError)


def test_protocol_and_ledger_identity(make_tagger, service):
    tagger = make_tagger(model_version="2023-10-01", language="en")
    assert isinstance(tagger, Classifier)
    assert tagger.provider == "azure"
    assert tagger.target == service.url
    assert tagger.max_batch == 1
    assert tagger.max_concurrency >= 8
    assert tagger.labels() is None
    assert dict(tagger.parameters) == {
        "features": "tags",
        "language": "en",
        "model_version": "2023-10-01",
        "api_version": "2023-10-01",
    }
    assert make_tagger(model_version="latest").parameters != tagger.parameters


def test_a_known_threshold_is_recorded(make_tagger, query):
    [scores] = make_tagger(threshold=0.3).classify([query("snow")])
    assert scores.threshold == 0.3
    [unknown] = make_tagger().classify([query("snow")])
    assert unknown.threshold is None


def test_userinfo_in_the_target_is_dropped(service, key_env, query):
    from providers.azure.tagger import AzureTagger

    host = service.url.removeprefix("http://")
    with AzureTagger(f"http://someone:hunter2@{host}/") as tagger:
        assert tagger.target == service.url
        assert "hunter2" not in repr(tagger)
        [scores] = tagger.classify([query("sand")])
    assert "sand" in scores.values


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"timeout": 0}, "timeout"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"threshold": 1.5}, "threshold"),
        ({"language": ""}, "language"),
        ({"model_version": " latest"}, "model_version"),
    ],
)
def test_bad_settings_name_themselves(make_tagger, options, problem):
    with pytest.raises(ValueError, match=problem):
        make_tagger(**options)
