"""Fitting queries into predict requests: re-encoding, downscaling, packing."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from providers.query import QueryImage
from providers.vertex.payload import REQUEST_LIMIT, fit_image, pack, to_instance


def noise(side: int, seed: int = 0) -> QueryImage:
    rng = np.random.default_rng(seed)
    return QueryImage.from_array(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))


def test_small_images_go_unchanged():
    query = noise(32)
    data, mime = fit_image(query)
    assert data == query.data and mime == "image/png"
    instance = to_instance(query)
    assert base64.b64decode(instance.body["content"]) == query.data
    assert instance.body["mimeType"] == "image/png"


@pytest.mark.parametrize("limit", [REQUEST_LIMIT, 200_000])
def test_large_images_are_reencoded_and_downscaled_deterministically(limit):
    query = noise(900)
    data, mime = fit_image(query, limit)
    assert mime == "image/jpeg"
    assert len(base64.b64encode(data)) < limit - 1000
    assert fit_image(query, limit) == (data, mime)  # same query, same payload (ledger keys)
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    assert width == height and 64 < width <= 900
    assert width < 900 or limit == REQUEST_LIMIT  # the small limit forces a downscale


def test_a_limit_too_small_for_any_image_is_an_error():
    with pytest.raises(ValueError, match="cannot hold any image"):
        fit_image(noise(512), limit=2_000)


def test_pack_respects_count_and_size():
    instances = [to_instance(noise(40, seed)) for seed in range(10)]
    assert pack(instances, max_instances=4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    size = instances[0].size
    groups = pack(instances, max_instances=100, limit=1024 + 3 * size + size // 2)
    assert [len(g) for g in groups] == [3, 3, 3, 1]
    assert [i for g in groups for i in g] == list(range(10))
    with pytest.raises(ValueError, match="at least 1"):
        pack(instances, max_instances=0)
