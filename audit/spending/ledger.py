"""The query ledger: every reply an audit paid for, in one SQLite file per workspace.

A query's key is the SHA-256 of (provider, target, image digest, canonical JSON of the
request parameters). A repeated query is answered from the ledger for free, and each
reply is committed as soon as it arrives, so an audit killed mid-way resumes without
paying for anything twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from audit.spending.budget import Budget
from providers.classifier import Classifier
from providers.errors import BadReplyError
from providers.query import QueryImage
from providers.rate_limit import RateLimiter
from providers.retry import RetryPolicy
from providers.scores import Scores

LEDGER_FILE = "ledger.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queries (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    target TEXT NOT NULL,
    image_digest TEXT NOT NULL,
    parameters TEXT NOT NULL,
    reply TEXT NOT NULL,
    time REAL NOT NULL,
    attempts INTEGER NOT NULL,
    cost_usd REAL NOT NULL
)
"""


def canonical_parameters(parameters: Mapping[str, object]) -> str:
    """Parameters as canonical JSON (sorted keys, no spaces): equal requests, equal text."""
    return json.dumps(dict(parameters), sort_keys=True, separators=(",", ":"), default=str)


def query_key(
    provider: str, target: str, image_digest: str, parameters: Mapping[str, object]
) -> str:
    """The ledger key of one query."""
    text = json.dumps(
        [provider, target, image_digest, canonical_parameters(parameters)],
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """One paid query, ready to be recorded."""

    key: str
    provider: str
    target: str
    image_digest: str
    parameters: str
    reply: Scores
    attempts: int
    cost_usd: float


class Ledger:
    """A SQLite ledger (WAL mode) at ``path``; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # Created private: replies and image digests of a person's audit.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"ledger {self.path} is not a usable SQLite file: {exc}") from None
        self._lock = threading.Lock()

    @classmethod
    def in_workspace(cls, workspace: Path) -> Ledger:
        """The ledger of ``workspace`` (created private, mode 0700, if missing)."""
        workspace = Path(workspace)
        workspace.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(workspace / LEDGER_FILE)

    def get_many(self, keys: Sequence[str]) -> dict[str, Scores]:
        """Recorded replies for those of ``keys`` the ledger holds."""
        found: dict[str, Scores] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):  # SQLite caps bound parameters
                part = unique[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT key, reply FROM queries WHERE key IN ({marks})", part
                ).fetchall()
                for key, reply in rows:
                    found[key] = Scores.from_json(json.loads(reply))
        return found

    def record(self, entries: Sequence[LedgerEntry]) -> None:
        """Commit ``entries`` at once (one transaction)."""
        now = time.time()
        rows = [
            (
                e.key,
                e.provider,
                e.target,
                e.image_digest,
                e.parameters,
                json.dumps(e.reply.to_json(), separators=(",", ":")),
                now,
                e.attempts,
                e.cost_usd,
            )
            for e in entries
        ]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO queries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def totals(self) -> dict[str, float]:
        """Everything recorded: queries, attempts and cost.

        A batch's attempts count once for each query it carried.
        """
        with self._lock:
            n, attempts, cost = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(attempts), 0), COALESCE(SUM(cost_usd), 0) "
                "FROM queries"
            ).fetchone()
        return {"queries": int(n), "attempts": int(attempts), "cost_usd": float(cost)}

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


@dataclass
class QueryCounts:
    """What a ``LedgeredClassifier`` did: queries billed, served from the ledger, attempts."""

    billed: int = 0
    cached: int = 0
    attempts: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: QueryCounts) -> QueryCounts:
        return QueryCounts(
            self.billed + other.billed,
            self.cached + other.cached,
            self.attempts + other.attempts,
            self.cost_usd + other.cost_usd,
        )

    def to_json(self) -> dict:
        """``{"billed", "cached", "attempts"}`` as the CLI's ``--json`` prints it."""
        return {"billed": self.billed, "cached": self.cached, "attempts": self.attempts}


class LedgeredClassifier:
    """A ``Classifier`` that pays for each distinct query once.

    Repeats are served from ``ledger``. Misses are sent in chunks of
    ``classifier.max_batch``, up to ``classifier.max_concurrency`` chunks at once, each
    call through ``limiter`` and ``retry``. The budget is reserved for every miss before
    anything is sent (``BudgetExhausted`` otherwise, nothing spent), refunded for chunks
    that fail, and each reply is recorded as soon as its chunk returns. ``progress(n)``
    hears of every n images answered (from the ledger or the service).
    """

    def __init__(
        self,
        classifier: Classifier,
        ledger: Ledger,
        budget: Budget | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.inner = classifier
        self.progress = progress
        self.ledger = ledger
        self.budget = budget if budget is not None else Budget.unlimited()
        self.retry = retry if retry is not None else RetryPolicy()
        self.limiter = limiter if limiter is not None else RateLimiter(None)
        self.provider = classifier.provider
        self.target = classifier.target
        self.max_batch = max(1, int(classifier.max_batch))
        self.max_concurrency = max(1, int(classifier.max_concurrency))
        self.counts = QueryCounts()
        self._counts_lock = threading.Lock()

    @property
    def parameters(self) -> Mapping[str, object]:
        """The wrapped classifier's parameters."""
        return self.inner.parameters

    def labels(self) -> list[str] | None:
        """The wrapped classifier's labels."""
        return self.inner.labels()

    def model_identity(self) -> str | None:
        """The wrapped classifier's model identity."""
        return self.inner.model_identity()

    def key(self, image: QueryImage) -> str:
        """The ledger key of ``image`` on this classifier."""
        return query_key(self.provider, self.target, image.digest, self.inner.parameters)

    def classify(self, images: Sequence[QueryImage]) -> list[Scores]:
        """Scores of ``images``, from the ledger where possible, else from the service."""
        # Read once per call: an adapter's parameters may change once it learns its labels.
        parameters = dict(self.inner.parameters)
        keys = [query_key(self.provider, self.target, i.digest, parameters) for i in images]
        replies = self.ledger.get_many(keys)
        misses: dict[str, QueryImage] = {}
        for key, image in zip(keys, images, strict=True):
            if key not in replies and key not in misses:
                misses[key] = image
        self.budget.reserve(len(misses))  # all or nothing, before any request is sent
        with self._counts_lock:
            self.counts.cached += len(images) - len(misses)
        if self.progress is not None:
            self.progress(len(images) - len(misses))
        if misses:
            replies.update(self._fetch(list(misses.items()), canonical_parameters(parameters)))
        return [replies[key] for key in keys]

    def _fetch(self, misses: list[tuple[str, QueryImage]], params: str) -> dict[str, Scores]:
        chunks = [misses[i : i + self.max_batch] for i in range(0, len(misses), self.max_batch)]
        if len(chunks) == 1 or self.max_concurrency == 1:
            out: dict[str, Scores] = {}
            for index, chunk in enumerate(chunks):
                try:
                    out.update(self._send(chunk, params))
                except BaseException:
                    self.budget.refund(sum(len(c) for c in chunks[index + 1 :]))
                    raise
            return out
        out = {}
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="isotope-query") as pool:
            futures: dict[Future, int] = {
                pool.submit(self._send, chunk, params): len(chunk) for chunk in chunks
            }
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                # Stop sending: cancel what has not started; let running chunks finish
                # (their replies are recorded) and refund the cancelled ones.
                for future in pending:
                    if future.cancel():
                        self.budget.refund(futures[future])
                wait(pending)
                raise failed[0].exception()  # type: ignore[misc]
            for future in done:
                out.update(future.result())
        return out

    def _send(self, chunk: list[tuple[str, QueryImage]], params: str) -> dict[str, Scores]:
        images = [image for _, image in chunk]
        operation = f"{self.provider} classify ({self.target})"

        def call() -> list[Scores]:
            self.limiter.acquire()
            try:
                return self.inner.classify(images)
            except ValueError as exc:
                # ``Scores`` refuses NaN and non-numbers: the service sent an unusable reply.
                raise BadReplyError(
                    f"unusable reply: {exc}", provider=self.provider, operation=operation
                ) from exc

        try:
            attempted = self.retry.call_counted(call, operation=operation)
            replies = attempted.value
            if len(replies) != len(images):
                raise BadReplyError(
                    f"sent {len(images)} images, got {len(replies)} replies",
                    provider=self.provider,
                    operation=operation,
                )
        except BaseException:
            self.budget.refund(len(chunk))
            raise
        price = self.budget.price_per_query
        self.ledger.record(
            [
                LedgerEntry(
                    key=key,
                    provider=self.provider,
                    target=self.target,
                    image_digest=image.digest,
                    parameters=params,
                    reply=reply,
                    attempts=attempted.attempts,
                    cost_usd=price,
                )
                for (key, image), reply in zip(chunk, replies, strict=True)
            ]
        )
        with self._counts_lock:
            self.counts.billed += len(chunk)
            self.counts.attempts += attempted.attempts
            self.counts.cost_usd += price * len(chunk)
        if self.progress is not None:
            self.progress(len(chunk))
        return {key: reply for (key, _), reply in zip(chunk, replies, strict=True)}
