"""Searches sent without a usable reply count against the budget; refusals do not.

Through the local face engine's fault injection and the faces audit's one paid-call
path (``audit.faces.paid_call``): a slow reply the client gave up on, a dropped
connection, a garbled 200 and a reply trickling past the call's deadline were all
sent, and Rekognition bills them; a throttled call was refused, and is not billed.
"""

from __future__ import annotations

import random
from collections import Counter

from audit.faces.paid_call import paid_call
from audit.spending.budget import Budget
from providers.face_collection import FaceSearch
from providers.faces_local.faults import FaultPlan
from providers.faces_local.server import FaceServer
from providers.rate_limit import RateLimiter
from providers.rekognition.collection import RekognitionCollection
from providers.retry import RetryPolicy

from .conftest import face_pixels, local_collection, png

SEARCH = frozenset({"SearchFacesByImage"})
UNANSWERED = ("slow", "drop", "malformed", "trickle")


def test_the_budget_counts_every_search_that_was_sent(
    server: FaceServer, gallery: RekognitionCollection, face_ids: list[int]
) -> None:
    adapter = local_collection(server, "gallery", read_timeout_s=0.5, deadline_s=0.8)
    adapter.model_identity()  # described now: the searches are the only requests
    plan = FaultPlan(
        slow=0.15, drop=0.15, malformed=0.15, trickle=0.15, throttle=0.15,
        slow_s=1.2, seed=11, operations=SEARCH,
    )  # fmt: skip
    server.faults.plan = plan
    earlier = Counter(server.faults.injected)  # the session's engine counts across tests
    budget = Budget(None, None, price_per_query=0.001)
    retry = RetryPolicy(max_attempts=30, sleep=lambda _: None, rng=random.Random(0))
    unanswered = [0]

    def count() -> None:
        unanswered[0] += 1

    probes = [png(face_pixels(i)) for i in face_ids[:8]]
    for probe in probes:
        budget.reserve(1)
        result = paid_call(
            lambda probe=probe: adapter.search(probe),
            budget=budget,
            retry=retry,
            limiter=RateLimiter(None),
            operation="search",
            on_unanswered=count,
        )
        assert isinstance(result.value, FaceSearch)
    injected = server.faults.injected - earlier
    sent_without_reply = sum(injected[kind] for kind in UNANSWERED)
    assert set(injected) >= {*UNANSWERED, "throttle"}  # every kind happened
    # A clean reply slowed past the timeout by a busy machine is unanswered too.
    assert unanswered[0] >= sent_without_reply
    # One billed search per probe, plus every search sent without a reply; the
    # throttled ones were refused and cost nothing.
    assert budget.spent_queries == len(probes) + unanswered[0]
    assert budget.spent_usd == budget.spent_queries * 0.001
