"""Without the ``vertex`` extra the adapter says which extra to install."""

from __future__ import annotations

import sys

import pytest

from providers.errors import MissingExtraError
from providers.query import QueryImage
from providers.vertex.predict import VertexClassifier
from providers.vertex.upload import storage_client


def test_missing_sdks_name_the_extra(monkeypatch):
    import google.cloud

    for name in ("aiplatform", "storage"):
        monkeypatch.setitem(sys.modules, f"google.cloud.{name}", None)
        monkeypatch.delattr(google.cloud, name, raising=False)
    classifier = VertexClassifier(
        "projects/p/locations/us-central1/endpoints/1", api_endpoint="http://127.0.0.1:9"
    )
    image = QueryImage(data=b"\x89PNG", mime_type="image/png")
    with pytest.raises(MissingExtraError, match=r"isotope-audit\[vertex\]"):
        classifier.classify([image])
    with pytest.raises(MissingExtraError, match=r"isotope-audit\[vertex\]"):
        storage_client()
