"""Face searches through the ledger: each distinct search billed once, ever.

A search's ledger key is (provider, target, image digest, parameters) plus the pinned
identity of the collection's model (collection + face model version + face count,
``CollectionInfo.model``): a repeated search of the same collection state is answered
from the ledger for free, and a search of a changed collection is a new search. "No
face in the probe" is a reply like any other: recorded, billed (the service billed
it), and answered from the ledger next time.

Misses go through the budget (reserved before anything is sent; refunded for searches
the service refused; a search sent without a usable reply is paid for, as Rekognition
bills it), the provider's rate limiter and the one retry policy, up to
``collection.max_concurrency`` at once; each reply is committed as soon as it arrives,
so a killed audit resumes without paying twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait

from audit.faces.codec import LedgerReplyError, outcome_from_json
from audit.faces.paid_call import paid_call
from audit.spending.budget import Budget
from audit.spending.ledger import (
    Ledger,
    LedgerEntry,
    QueryCounts,
    canonical_parameters,
    query_key,
)
from audit.spending.model_pin import changed_message
from providers.errors import ModelChangedError
from providers.face_collection import FaceCollection, SearchOutcome, without_face_count
from providers.query import QueryImage
from providers.rate_limit import RateLimiter
from providers.retry import RetryPolicy

SEARCH = "search"


class LedgeredFaceSearch:
    """Searches one collection, pinned to the model identity ``model``.

    ``max_faces`` and ``threshold`` are the search parameters (MaxFaces,
    FaceMatchThreshold). A reply from another model than the pinned one (faces were
    added to or deleted from the collection during the audit) is recorded under its
    own model's key, and ``ModelChangedError`` stops the audit rather than mix two
    collection states into one verdict; run it again to audit the collection as it is
    now. With ``live`` (a collection others keep enrolling into) only a change of the
    face model itself stops it: searches are keyed and compared without the face
    count, and ``states`` lists every collection state that answered, so the caller
    can say the comparison spanned several. ``progress(n)`` hears of every n searches
    answered.
    """

    def __init__(
        self,
        collection: FaceCollection,
        ledger: Ledger,
        *,
        model: str,
        max_faces: int,
        threshold: float,
        budget: Budget | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        progress: Callable[[int], None] | None = None,
        live: bool = False,
    ) -> None:
        self.collection = collection
        self.ledger = ledger
        self.model = model
        self.max_faces = max_faces
        self.threshold = threshold
        self.budget = budget if budget is not None else Budget.unlimited()
        self.retry = retry if retry is not None else RetryPolicy()
        self.limiter = limiter if limiter is not None else RateLimiter(None)
        self.progress = progress
        self.provider = collection.provider
        self.target = collection.target
        self.counts = QueryCounts()
        self.live = live
        self.states: set[str] = set()  # the identities of every reply used
        self._lock = threading.Lock()

    @property
    def parameters(self) -> Mapping[str, object]:
        """Everything about a search request that can change its reply."""
        return {
            **self.collection.parameters,
            "operation": SEARCH,
            "max_faces": self.max_faces,
            "threshold": self.threshold,
        }

    def _pinned_part(self, model: str) -> str:
        return without_face_count(model) if self.live else model

    def key(self, image: QueryImage, model: str | None = None) -> str:
        """The ledger key of searching ``image`` (on the pinned model by default)."""
        return query_key(
            self.provider,
            self.target,
            image.digest,
            self.parameters,
            model=self._pinned_part(self.model if model is None else model),
        )

    def search_many(self, images: Sequence[QueryImage]) -> list[SearchOutcome]:
        """The outcome of searching each of ``images``: from the ledger, else the service.

        Raises ``BudgetExhausted`` (nothing sent) when the budget cannot pay for every
        search not on file, and the provider's errors when a search fails.
        """
        keys = [self.key(image) for image in images]
        found = {key: self._stored(reply) for key, reply in self.ledger.get_many_json(keys).items()}
        misses: dict[str, QueryImage] = {}
        for key, image in zip(keys, images, strict=True):
            if key not in found and key not in misses:
                misses[key] = image
        self.budget.reserve(len(misses))  # all or nothing, before any request is sent
        with self._lock:
            self.counts.cached += len(images) - len(misses)
        if self.progress is not None and len(images) > len(misses):
            self.progress(len(images) - len(misses))
        if misses:
            found.update(self._fetch(list(misses.items())))
        with self._lock:
            self.states.update(outcome.model for outcome in found.values())
        return [found[key] for key in keys]

    def _stored(self, reply: dict) -> SearchOutcome:
        try:
            return outcome_from_json(reply)
        except LedgerReplyError as exc:
            raise LedgerReplyError(
                f"the ledger {self.ledger.path} holds a damaged face-search reply ({exc}): "
                "audit in a fresh --workspace"
            ) from None

    def _fetch(self, misses: list[tuple[str, QueryImage]]) -> dict[str, SearchOutcome]:
        workers = max(1, min(int(self.collection.max_concurrency), len(misses)))
        if workers == 1:
            out: dict[str, SearchOutcome] = {}
            for index, (key, image) in enumerate(misses):
                try:
                    out[key] = self._send(image)
                except BaseException:
                    self.budget.refund(len(misses) - index - 1)  # never sent
                    raise
            return out
        with ThreadPoolExecutor(workers, thread_name_prefix="isotope-face-search") as pool:
            futures: dict[Future[SearchOutcome], str] = {
                pool.submit(self._send, image): key for key, image in misses
            }
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [future for future in done if future.exception() is not None]
            if failed:
                # Stop sending: cancel what has not started (refunded); searches in
                # flight finish and their replies are recorded.
                for future in pending:
                    if future.cancel():
                        self.budget.refund(1)
                wait(pending)
                raise failed[0].exception()  # type: ignore[misc]
            return {futures[future]: future.result() for future in done}

    def _send(self, image: QueryImage) -> SearchOutcome:
        operation = f"{self.provider} SearchFacesByImage {self.target}"

        price = self.budget.price_per_query

        def unanswered() -> None:
            with self._lock:
                self.counts.unanswered += 1
                self.counts.cost_usd += price

        attempted = paid_call(
            lambda: self.collection.search(
                image, max_faces=self.max_faces, threshold=self.threshold
            ),
            budget=self.budget,
            retry=self.retry,
            limiter=self.limiter,
            operation=operation,
            on_unanswered=unanswered,
        )
        outcome = attempted.value
        self.ledger.record(
            [
                LedgerEntry(
                    key=self.key(image, outcome.model),
                    provider=self.provider,
                    target=self.target,
                    image_digest=image.digest,
                    parameters=canonical_parameters(self.parameters),
                    reply=outcome,
                    attempts=attempted.attempts,
                    cost_usd=price,
                    model=outcome.model,
                )
            ]
        )
        with self._lock:
            self.counts.billed += 1
            self.counts.attempts += attempted.attempts
            self.counts.cost_usd += price
        if self.progress is not None:
            self.progress(1)
        if self._pinned_part(outcome.model) != self._pinned_part(self.model):
            raise ModelChangedError(
                changed_message(self.provider, self.target, self.model, outcome.model),
                provider=self.provider,
                operation=operation,
                pinned=self.model,
                answered=outcome.model,
            )
        return outcome
