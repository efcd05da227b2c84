"""Audit-style concurrent calls: paced by the client's rate limiter, never over the service's."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from fixtures.fake_azure.quota import Quota
from providers.azure.spec import SPEC
from providers.rate_limit import RateLimiter
from providers.retry import RetryPolicy

TAGS = ("sky", "grass", "sand", "snow")


def test_concurrent_calls_keep_to_the_service_rate_and_answer_as_sequential_ones(
    make_tagger, fake, query, caplog
):
    caplog.set_level(logging.WARNING)
    tagger = make_tagger()
    images = [query(TAGS[i % 4], seed=100 + i) for i in range(30)]
    sequential = tagger.classify(images)
    fake.latency_s = 0.05  # a little service time, so calls overlap
    fake.max_in_flight = 0
    quota = fake.quota = Quota(SPEC.rate.per_s, 20)  # S1: 20 calls/s
    limiter = RateLimiter(SPEC.rate.per_s, SPEC.rate.burst)
    retry = RetryPolicy(max_attempts=1)  # a 429 would fail the test, not be retried away

    def one(image):
        def call():
            limiter.acquire()
            return tagger.classify([image])

        return retry.call(call, operation="azure classify")[0]

    with ThreadPoolExecutor(tagger.max_concurrency) as pool:
        concurrent = list(pool.map(one, images))
    assert concurrent == sequential
    assert quota.refused == 0 and quota.admitted == len(images)
    assert fake.max_in_flight >= 4
    # requests' pool holds every concurrent connection (none opened and thrown away).
    assert not [r for r in caplog.records if "Connection pool is full" in r.getMessage()]
