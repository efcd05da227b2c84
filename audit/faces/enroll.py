"""Enrolling images into a face collection: idempotent, resumable, and priced first.

IndexFaces has no idempotency token: sending an image twice stores its face twice and
bills twice. So an enrollment

1. lists the collection's faces (ListFaces: not billed per image) and skips every
   external id already there, and skips images the ledger says the service already
   refused for this face model (no face found): a killed enrollment resumes with only
   what is missing;
2. states the count and the cost of what is left (``EnrollPlan``) before sending;
3. sends each image once (IndexFaces, one face per image) through the budget (all of
   it reserved before the first call), the rate limiter and the retry policy, and
   records each reply in the ledger as it arrives;
4. lists the faces again and deletes any second face of an external id it enrolled:
   a reply lost on the way back (a dropped connection) makes the retry index the
   image again, and only this pass can tell.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from audit.errors import BudgetTooSmallError
from audit.faces.paid_call import paid_call
from audit.spending.budget import Budget
from audit.spending.ledger import (
    Ledger,
    LedgerEntry,
    QueryCounts,
    canonical_parameters,
    query_key,
)
from providers.face_collection import Enrollment, FaceCollection
from providers.query import QueryImage
from providers.rate_limit import RateLimiter
from providers.retry import RetryPolicy

INDEX = "index"
NOT_SENT = "BAD_IMAGE"  # the adapter could not send the image: nothing billed


@dataclass(frozen=True)
class EnrollItem:
    """One image to enroll under ``external_id``; ``load`` reads its bytes when sent."""

    external_id: str
    load: Callable[[], QueryImage]


@dataclass(frozen=True)
class IndexReply:
    """What the ledger keeps of one IndexFaces call."""

    enrollment: Enrollment

    def to_json(self) -> dict:
        """The enrollment's JSON with the operation named."""
        return {"operation": INDEX, **self.enrollment.to_json()}


@dataclass
class EnrollPlan:
    """What an enrollment still has to send, and what it costs, known before sending."""

    to_send: list[EnrollItem]
    present: int  # external ids already in the collection
    refused_before: int  # images the service already refused (no face), per the ledger
    price_per_image: float
    face_model_version: str

    @property
    def cost_usd(self) -> float:
        """What sending ``to_send`` costs at most."""
        return len(self.to_send) * self.price_per_image

    def to_json(self) -> dict:
        """A JSON-ready dict (the ``--dry-run --json`` output)."""
        return {
            "images": len(self.to_send) + self.present + self.refused_before,
            "to_send": len(self.to_send),
            "already_enrolled": self.present,
            "refused_before": self.refused_before,
            "price_per_image": self.price_per_image,
            "cost_usd": self.cost_usd,
            "face_model_version": self.face_model_version,
        }


@dataclass
class EnrollReport:
    """What an enrollment did."""

    indexed: int = 0
    not_indexed: dict[str, list[str]] = field(default_factory=dict)  # external id → reasons
    duplicates_removed: int = 0
    counts: QueryCounts = field(default_factory=QueryCounts)

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {
            "indexed": self.indexed,
            "not_indexed": self.not_indexed,
            "duplicates_removed": self.duplicates_removed,
            "queries": self.counts.to_json(),
            "cost_usd": self.counts.cost_usd,
        }


class Enroller:
    """Enrolls images into ``collection`` through ``ledger``, ``budget``, ``limiter``, ``retry``.

    ``progress(n)`` hears of every n images answered.
    """

    def __init__(
        self,
        collection: FaceCollection,
        ledger: Ledger,
        *,
        budget: Budget | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.collection = collection
        self.ledger = ledger
        self.budget = budget if budget is not None else Budget.unlimited()
        self.retry = retry if retry is not None else RetryPolicy()
        self.limiter = limiter if limiter is not None else RateLimiter(None)
        self.progress = progress
        self._lock = threading.Lock()
        self._version = ""

    def _parameters(self, external_id: str) -> dict[str, object]:
        return {"operation": INDEX, "external_id": external_id}

    def _key(self, item: EnrollItem, image: QueryImage) -> str:
        return query_key(
            self.collection.provider,
            self.collection.target,
            image.digest,
            self._parameters(item.external_id),
            model=self._version,
        )

    def plan(self, items: Sequence[EnrollItem]) -> EnrollPlan:
        """What is left to send (see the module docstring); sends nothing billed."""
        info = self.collection.describe()
        self._version = info.face_model_version
        present = {face.external_id for face in self.collection.iter_faces()}
        remaining = [item for item in items if item.external_id not in present]
        keys = {self._key(item, item.load()): item for item in remaining}
        refused = set()
        for key, reply in self.ledger.get_many_json(list(keys)).items():
            if not reply.get("indexed"):
                refused.add(keys[key].external_id)
        to_send = [item for item in remaining if item.external_id not in refused]
        return EnrollPlan(
            to_send,
            len(items) - len(remaining),
            len(refused),
            self.budget.price_per_query,
            info.face_model_version,
        )

    def run(self, plan: EnrollPlan) -> EnrollReport:
        """Send ``plan.to_send`` and remove duplicates; ``BudgetTooSmallError`` first if the
        budget cannot pay for all of it."""
        report = EnrollReport()
        capacity = self.budget.remaining()
        if capacity is not None and capacity < len(plan.to_send):
            raise BudgetTooSmallError(
                f"enrolling {len(plan.to_send)} images costs ${plan.cost_usd:.4f} but the budget "
                f"pays for {capacity}: raise --budget-queries/--budget-usd"
            )
        self._version = plan.face_model_version
        self.budget.reserve(len(plan.to_send))
        items = plan.to_send
        if items:
            workers = max(1, min(int(self.collection.max_concurrency), len(items)))
            with ThreadPoolExecutor(workers, thread_name_prefix="isotope-enroll") as pool:
                futures: dict[Future[None], EnrollItem] = {
                    pool.submit(self._send, item, report): item for item in items
                }
                done, pending = wait(futures, return_when=FIRST_EXCEPTION)
                failed = [future for future in done if future.exception() is not None]
                if failed:
                    for future in pending:
                        if future.cancel():
                            self.budget.refund(1)
                    wait(pending)
                    raise failed[0].exception()  # type: ignore[misc]
        report.duplicates_removed = self._remove_duplicates({item.external_id for item in items})
        return report

    def _send(self, item: EnrollItem, report: EnrollReport) -> None:
        image = item.load()
        operation = f"{self.collection.provider} IndexFaces {self.collection.target}"

        def call() -> Enrollment:
            result = self.collection.enroll([image], [item.external_id])
            if result.error is not None:  # one image: an error is never partial
                raise result.error
            return result

        def unanswered() -> None:
            with self._lock:
                report.counts.unanswered += 1
                report.counts.cost_usd += self.budget.price_per_query

        attempted = paid_call(
            call,
            budget=self.budget,
            retry=self.retry,
            limiter=self.limiter,
            operation=operation,
            on_unanswered=unanswered,
        )
        enrollment = attempted.value
        sent = not any(NOT_SENT in face.reasons for face in enrollment.not_indexed)
        price = self.budget.price_per_query if sent else 0.0
        if not sent:
            self.budget.refund(1)
        self.ledger.record(
            [
                LedgerEntry(
                    key=self._key(item, image),
                    provider=self.collection.provider,
                    target=self.collection.target,
                    image_digest=image.digest,
                    parameters=canonical_parameters(self._parameters(item.external_id)),
                    reply=IndexReply(enrollment),
                    attempts=attempted.attempts,
                    cost_usd=price,
                    model=self._version,
                )
            ]
        )
        with self._lock:
            report.counts.billed += int(sent)
            report.counts.attempts += attempted.attempts
            report.counts.cost_usd += price
            if enrollment.indexed:
                report.indexed += 1
            else:
                reasons = sorted({r for face in enrollment.not_indexed for r in face.reasons})
                report.not_indexed[item.external_id] = reasons or ["NO_FACE"]
        if self.progress is not None:
            self.progress(1)

    def _remove_duplicates(self, enrolled: set[str]) -> int:
        if not enrolled:
            return 0
        faces_by_id: dict[str, list[str]] = defaultdict(list)
        for face in self.collection.iter_faces():
            if face.external_id in enrolled:
                faces_by_id[face.external_id].append(face.face_id)
        extra = [face for faces in faces_by_id.values() for face in faces[1:]]
        if not extra:
            return 0
        return len(self.collection.delete_faces(extra).deleted)
