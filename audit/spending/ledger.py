"""The query ledger: every reply an audit paid for, in one SQLite file per workspace.

A query's key is the SHA-256 of (provider, target, model identity, image digest,
canonical JSON of the request parameters). A repeated query to the same model is
answered from the ledger for free, and each reply is committed as soon as it arrives, so
an audit killed mid-way resumes without paying for anything twice. Which model an
audit's replies must come from is pinned at its start (``audit.spending.model_pin``).

Ledgers written before replies were keyed on the model get a ``model`` column when
opened: a row whose stored reply names its model is re-keyed on it; the others (no
identity known) keep their old keys, which no lookup computes, so they never answer.
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
from typing import Protocol

from audit.errors import LedgerError
from audit.spending import workspace_lock
from audit.spending.budget import Budget
from audit.spending.model_pin import (
    FIRST_REPLY,
    NOT_TOLD,
    PROBE,
    TOLD,
    ModelPin,
    changed_message,
)
from audit.spending.reply_check import reply_problem
from providers.classifier import Classifier
from providers.errors import BadReplyError, ModelChangedError, UnansweredError
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
    cost_usd REAL NOT NULL,
    model TEXT
)
"""
_COLUMNS = "key, provider, target, image_digest, parameters, reply, time, attempts, cost_usd, model"
# Replies refused as answers (``audit.spending.reply_check``), kept as evidence of what the
# service sent; never read back as answers, so a rerun asks again.
_BAD_SCHEMA = """
CREATE TABLE IF NOT EXISTS bad_replies (
    key TEXT NOT NULL,
    provider TEXT NOT NULL,
    target TEXT NOT NULL,
    image_digest TEXT NOT NULL,
    parameters TEXT NOT NULL,
    reply TEXT NOT NULL,
    problem TEXT NOT NULL,
    time REAL NOT NULL,
    model TEXT
)
"""
_REQUIRED_COLUMNS = {
    "key", "provider", "target", "image_digest", "parameters", "reply", "time", "attempts",
    "cost_usd",
}  # fmt: skip


def canonical_parameters(parameters: Mapping[str, object]) -> str:
    """Parameters as canonical JSON (sorted keys, no spaces): equal requests, equal text."""
    return json.dumps(dict(parameters), sort_keys=True, separators=(",", ":"), default=str)


def query_key(
    provider: str,
    target: str,
    image_digest: str,
    parameters: Mapping[str, object],
    *,
    model: str,
) -> str:
    """The ledger key of one query answered by ``model`` ("" when the service does not
    say which model answered)."""
    return _key(provider, target, model, image_digest, canonical_parameters(parameters))


def _key(provider: str, target: str, model: str, image_digest: str, parameters: str) -> str:
    text = json.dumps([provider, target, model, image_digest, parameters], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class JsonReply(Protocol):
    """A reply the ledger can store: anything that renders itself as a JSON object."""

    def to_json(self) -> dict: ...


@dataclass(frozen=True)
class LedgerEntry:
    """One paid query, ready to be recorded."""

    key: str
    provider: str
    target: str
    image_digest: str
    parameters: str
    reply: JsonReply  # a classifier's ``Scores``, a face search's outcome, ...
    attempts: int
    cost_usd: float
    model: str = ""  # the identity the key holds ("" when the service does not say)


class Ledger:
    """A SQLite ledger (WAL mode) at ``path``; safe to share between threads.

    Opening it takes the workspace's lock (``audit.spending.workspace_lock``): another
    process auditing into the same ledger gets ``WorkspaceBusyError``. A file that is
    damaged, not SQLite, or another program's database is refused (``LedgerError``)
    before anything is written to it; so is a write the disk cannot take, after which
    every reply committed before is still there.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = workspace_lock.acquire(self.path)
        self._lock = threading.Lock()
        try:
            if not self.path.exists():
                # Created private: replies and image digests of a person's audit.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30.0
            )
        except (OSError, sqlite3.Error) as exc:
            workspace_lock.release(self._lock_path)
            raise LedgerError(f"cannot open the ledger {self.path}: {exc}") from None
        try:
            self._check_foreign()  # before any write: never alter another program's file
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._db.execute(_BAD_SCHEMA)
            self._add_model_column()
        except sqlite3.Error as exc:
            self._db.close()
            workspace_lock.release(self._lock_path)
            raise self._error(exc, "open") from None
        except LedgerError:
            self._db.close()
            workspace_lock.release(self._lock_path)
            raise

    def _check_foreign(self) -> None:
        tables = {
            row[0]
            for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if not tables:
            return  # a new ledger
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(queries)")}
        if "queries" not in tables or not columns >= _REQUIRED_COLUMNS:
            shown = ", ".join(sorted(tables)[:5])
            raise LedgerError(
                f"ledger {self.path} is a SQLite database of something else (tables: "
                f"{shown}), not an isotope ledger; it was left untouched: give the audit "
                "another --workspace, or move that file away"
            )

    def _error(self, exc: sqlite3.Error, doing: str) -> LedgerError:
        """A one-line ``LedgerError`` for a SQLite failure while ``doing``."""
        reason = str(exc) or exc.__class__.__name__
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return LedgerError(
                f"ledger {self.path} is damaged or not an isotope ledger ({reason}); move it "
                "aside (its replies cannot be reused) or give the audit another --workspace"
            )
        full = "full" in reason.lower() or "disk i/o" in reason.lower()
        why = "the disk is full" if full else reason
        return LedgerError(
            f"cannot {doing} the ledger {self.path}: {why} ({reason}). Every reply recorded "
            "before is kept; free some space (or fix the workspace) and run the audit again: "
            "it resumes without paying for them again"
        )

    def _add_model_column(self) -> None:
        """Migrate a ledger written before replies were keyed on their model."""
        if "model" in {row[1] for row in self._db.execute("PRAGMA table_info(queries)")}:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated it while this one waited for the lock.
            if "model" not in {row[1] for row in self._db.execute("PRAGMA table_info(queries)")}:
                self._db.execute("ALTER TABLE queries ADD COLUMN model TEXT")
                rows = self._db.execute(
                    "SELECT key, provider, target, image_digest, parameters, reply FROM queries"
                ).fetchall()
                for key, provider, target, digest, parameters, reply in rows:
                    try:
                        model = json.loads(reply).get("model")
                    except (ValueError, AttributeError):
                        model = None
                    if isinstance(model, str) and model:
                        self._db.execute(
                            "UPDATE OR IGNORE queries SET key = ?, model = ? WHERE key = ?",
                            (_key(provider, target, model, digest, parameters), model, key),
                        )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def models(self, provider: str, target: str) -> set[str]:
        """The identities of the models whose replies for (``provider``, ``target``) are
        on file ("" for replies of a service that did not say); rows older than the
        identities, which never answer, are left out."""
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT DISTINCT model FROM queries "
                    "WHERE provider = ? AND target = ? AND model IS NOT NULL",
                    (provider, target),
                ).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc, "read") from None
        return {row[0] for row in rows}

    @classmethod
    def in_workspace(cls, workspace: Path) -> Ledger:
        """The ledger of ``workspace`` (created private, mode 0700, if missing)."""
        workspace = Path(workspace)
        workspace.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(workspace / LEDGER_FILE)

    def get_many(self, keys: Sequence[str]) -> dict[str, Scores]:
        """Recorded replies for those of ``keys`` the ledger holds.

        A reply an older version stored although it fails ``reply_check`` is moved to
        ``bad_replies`` (kept as evidence) and left out, so it is asked again.
        """
        found: dict[str, Scores] = {}
        unfit: list[tuple[str, str]] = []
        for key, stored in self.get_many_json(keys).items():
            try:
                reply = Scores.from_json(stored)
            except (KeyError, TypeError, ValueError) as exc:
                unfit.append((key, f"unreadable: {exc}"))
                continue
            problem = reply_problem(reply)
            if problem is None:
                found[key] = reply
            else:
                unfit.append((key, problem))
        if unfit:
            self._move_aside(unfit)
        return found

    def _move_aside(self, unfit: Sequence[tuple[str, str]]) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for key, problem in unfit:
                        self._db.execute(
                            "INSERT INTO bad_replies (key, provider, target, image_digest, "
                            "parameters, reply, problem, time, model) SELECT key, provider, "
                            "target, image_digest, parameters, reply, ?, time, model "
                            "FROM queries WHERE key = ?",
                            (f"stored by an older version: {problem}", key),
                        )
                        self._db.execute("DELETE FROM queries WHERE key = ?", (key,))
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._error(exc, "write to") from None

    def get_many_json(self, keys: Sequence[str]) -> dict[str, dict]:
        """Recorded replies for those of ``keys`` the ledger holds, as stored (JSON
        objects): for callers whose replies are not ``Scores`` (face searches)."""
        found: dict[str, dict] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):  # SQLite caps bound parameters
                part = unique[start : start + 500]
                marks = ",".join("?" * len(part))
                try:
                    rows = self._db.execute(
                        f"SELECT key, reply FROM queries WHERE key IN ({marks})", part
                    ).fetchall()
                except sqlite3.Error as exc:
                    raise self._error(exc, "read") from None
                for key, reply in rows:
                    try:
                        found[key] = json.loads(reply)
                    except ValueError:
                        continue  # a damaged row answers nothing: the query is asked again
        return found

    def record(self, entries: Sequence[LedgerEntry]) -> None:
        """Commit ``entries`` at once (one transaction); ``LedgerError`` when the disk
        cannot take them (what was committed before stays)."""
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
                e.model,
            )
            for e in entries
        ]
        self._commit(
            f"INSERT OR IGNORE INTO queries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
            f"record {len(rows)} paid replies in",
        )

    def record_bad(self, entries: Sequence[tuple[LedgerEntry, str]]) -> None:
        """Keep replies refused as answers, with why (``bad_replies``): evidence only."""
        now = time.time()
        rows = [
            (
                e.key,
                e.provider,
                e.target,
                e.image_digest,
                e.parameters,
                json.dumps(e.reply.to_json(), separators=(",", ":")),
                problem,
                now,
                e.model,
            )
            for e, problem in entries
        ]
        self._commit(
            "INSERT INTO bad_replies (key, provider, target, image_digest, parameters, "
            "reply, problem, time, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
            f"record {len(rows)} refused replies in",
        )

    def _commit(self, statement: str, rows: Sequence[tuple], doing: str) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(statement, rows)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._error(exc, doing) from None

    def totals(self) -> dict[str, float]:
        """Everything recorded: queries, attempts and cost.

        A batch's attempts count once for each query it carried.
        """
        with self._lock:
            try:
                n, attempts, cost = self._db.execute(
                    "SELECT COUNT(*), COALESCE(SUM(attempts), 0), COALESCE(SUM(cost_usd), 0) "
                    "FROM queries"
                ).fetchone()
            except sqlite3.Error as exc:
                raise self._error(exc, "read") from None
        return {"queries": int(n), "attempts": int(attempts), "cost_usd": float(cost)}

    def close(self) -> None:
        """Close the database and let go of the workspace's lock (idempotent)."""
        with self._lock:
            self._db.close()
        workspace_lock.release(self._lock_path)


@dataclass
class QueryCounts:
    """What a ``LedgeredClassifier`` did: queries billed, served from the ledger, attempts.

    ``unanswered``: queries sent in requests that got no reply (timeouts): paid for
    as far as the budget knows, with nothing to show. ``refused``: replies received and
    paid for but refused as answers (kept in the ledger's ``bad_replies``).
    """

    billed: int = 0
    cached: int = 0
    attempts: int = 0
    cost_usd: float = 0.0
    unanswered: int = 0
    refused: int = 0

    def __add__(self, other: QueryCounts) -> QueryCounts:
        return QueryCounts(
            self.billed + other.billed,
            self.cached + other.cached,
            self.attempts + other.attempts,
            self.cost_usd + other.cost_usd,
            self.unanswered + other.unanswered,
            self.refused + other.refused,
        )

    def to_json(self) -> dict:
        """``{"billed", "cached", "attempts", "unanswered", "refused"}`` as ``--json``
        prints it."""
        return {
            "billed": self.billed,
            "cached": self.cached,
            "attempts": self.attempts,
            "unanswered": self.unanswered,
            "refused": self.refused,
        }


class LedgeredClassifier:
    """A ``Classifier`` that pays for each distinct query once.

    Repeats are served from ``ledger``. Misses are sent in chunks of
    ``classifier.max_batch``, up to ``classifier.max_concurrency`` chunks at once, each
    call through ``limiter`` and ``retry``. The budget is reserved for every miss before
    anything is sent (``BudgetExhausted`` otherwise, nothing spent), refunded for chunks
    that fail, and each reply is recorded as soon as its chunk returns. ``progress(n)``
    hears of every n images answered (from the ledger or the service).

    Replies must come from one model: the first ``classify`` (or ``pin_model``) pins it
    (``audit.spending.model_pin``), lookups use the pinned identity, and a fresh reply
    naming another model is recorded under that model and stops the audit with
    ``ModelChangedError``. ``pin`` says which model was pinned and how it was learned.
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
        self.pin: ModelPin | None = None  # None until known (see ``pin_model``)
        self._pin_checked = False
        self._pin_source = FIRST_REPLY  # how a pin learned from a fresh reply was learned
        self._pin_lock = threading.RLock()

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
        """The ledger key of ``image`` on this classifier's pinned model."""
        model = self.pin.key if self.pin is not None else ""
        return query_key(self.provider, self.target, image.digest, self.parameters, model=model)

    def pin_model(self, probe: QueryImage) -> Scores | None:
        """Pin the model the replies must come from, once; returns the probe's reply
        when one had to be sent.

        The identity the service tells (``model_identity``, free) is pinned at once.
        Otherwise, with no reply for this target on file, the first fresh reply pins
        it (nothing cached could answer before). With replies of named models on file,
        ``probe`` is sent afresh (billed) and its reply pins it: a cached reply cannot
        tell which model serves now. With only replies that named no model on file,
        the service does not tell: the pin is unknown.
        """
        with self._pin_lock:
            if self._pin_checked:
                return None
            operation = f"{self.provider} model identity ({self.target})"
            told = self.retry.call(self.inner.model_identity, operation=operation)
            seen = set() if told is not None else self.ledger.models(self.provider, self.target)
            self._pin_checked = True
            if told is not None:
                self.pin = ModelPin(told, TOLD)
            elif seen == {""}:
                self.pin = ModelPin(None, NOT_TOLD)
            if self.pin is not None or not seen:
                return None
            # Still under the lock: no other caller looks anything up before the pin.
            self._pin_source = PROBE
            try:
                self.budget.reserve(1)
                params = canonical_parameters(self.inner.parameters)
                return self._send([(probe.digest, probe)], params)[probe.digest]
            except BaseException:
                self._pin_checked = False  # unpinned still: the next call asks again
                raise

    def classify(self, images: Sequence[QueryImage]) -> list[Scores]:
        """Scores of ``images``, from the ledger where possible, else from the service."""
        if not images:
            return []
        probed = self.pin_model(images[0])
        # Read once per call: an adapter's parameters may change once it learns its labels.
        parameters = dict(self.inner.parameters)
        replies: dict[str, Scores] = {}  # by image digest
        if self.pin is not None:  # else nothing on file can answer: the first reply pins
            keys = {
                i.digest: query_key(
                    self.provider, self.target, i.digest, parameters, model=self.pin.key
                )
                for i in images
            }
            found = self.ledger.get_many(list(keys.values()))
            replies = {digest: found[key] for digest, key in keys.items() if key in found}
        if probed is not None:
            replies[images[0].digest] = probed
        misses: dict[str, QueryImage] = {}
        for image in images:
            if image.digest not in replies and image.digest not in misses:
                misses[image.digest] = image
        self.budget.reserve(len(misses))  # all or nothing, before any request is sent
        cached = len(images) - len(misses) - (probed is not None)
        with self._counts_lock:
            self.counts.cached += cached
        if self.progress is not None:
            self.progress(cached)
        if misses:
            replies.update(self._fetch(list(misses.items()), canonical_parameters(parameters)))
        return [replies[image.digest] for image in images]

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
        """Send one chunk of (image digest, image); record and return replies by digest."""
        images = [image for _, image in chunk]
        operation = f"{self.provider} classify ({self.target})"
        price = self.budget.price_per_query
        # The chunk's reservation (made by the caller) pays for the next attempt. An attempt
        # that reached the service without a usable answer (no reply, an unusable one) was
        # paid for all the same: the next attempt reserves again, within the budget.
        held = [True]

        def call() -> list[Scores]:
            if not held[0]:
                self.budget.reserve(len(chunk))  # BudgetExhausted stops the retries
                held[0] = True
            self.limiter.acquire()
            try:
                return self.inner.classify(images)
            except UnansweredError:
                held[0] = False
                with self._counts_lock:
                    self.counts.unanswered += len(chunk)
                    self.counts.cost_usd += price * len(chunk)
                raise
            except ValueError as exc:
                # ``Scores`` refuses NaN and non-numbers: the service sent an unusable reply.
                held[0] = False
                raise BadReplyError(
                    f"unusable reply: {exc}", provider=self.provider, operation=operation
                ) from exc
            except BadReplyError:
                held[0] = False
                raise

        try:
            attempted = self.retry.call_counted(call, operation=operation)
            replies = attempted.value
            if len(replies) != len(images):
                held[0] = False  # answered, so paid for
                raise BadReplyError(
                    f"sent {len(images)} images, got {len(replies)} replies",
                    provider=self.provider,
                    operation=operation,
                )
        except BaseException:
            if held[0]:
                self.budget.refund(len(chunk))  # refused or never sent: not billed
            raise
        models = self._answering_models(replies)
        entries = [
            LedgerEntry(
                key=_key(self.provider, self.target, model, image.digest, params),
                provider=self.provider,
                target=self.target,
                image_digest=image.digest,
                parameters=params,
                reply=reply,
                attempts=attempted.attempts,
                cost_usd=price,
                model=model,
            )
            for (_, image), reply, model in zip(chunk, replies, models, strict=True)
        ]
        # Checked before storing: a reply stored is an answer for ever.
        problems = [reply_problem(reply) for reply in replies]
        refused = [(e, p) for e, p in zip(entries, problems, strict=True) if p is not None]
        self.ledger.record([e for e, p in zip(entries, problems, strict=True) if p is None])
        if refused:
            self.ledger.record_bad(refused)
        with self._counts_lock:
            self.counts.billed += len(chunk)
            self.counts.refused += len(refused)
            self.counts.attempts += attempted.attempts
            self.counts.cost_usd += price * len(chunk)
        if self.progress is not None:
            self.progress(len(chunk) - len(refused))
        pinned = self.pin.key if self.pin is not None else ""
        strangers = [model for model in models if model != pinned]
        if strangers:
            # Paid for and recorded under the model that gave them; never mixed in.
            raise ModelChangedError(
                changed_message(self.provider, self.target, pinned, strangers[0]),
                provider=self.provider,
                operation=operation,
                pinned=pinned,
                answered=strangers[0],
            )
        if refused:
            raise BadReplyError(
                f"{len(refused)} of {len(chunk)} replies are unusable, e.g. "
                f"{refused[0][1]}; they are kept as evidence in the ledger's bad_replies "
                f"table of {self.ledger.path}, never used as answers: they are asked again "
                "when the audit is run again",
                provider=self.provider,
                operation=operation,
            )
        return {digest: reply for (digest, _), reply in zip(chunk, replies, strict=True)}

    def _answering_models(self, replies: Sequence[Scores]) -> list[str]:
        """The identity each fresh reply is recorded under: the pinned model's, or the
        model a reply names when that is another (the caller then stops the audit).

        Without a pin yet, the first reply naming a model pins it. A reply that names no
        model is taken as the pinned model's: the service did not say otherwise.
        """
        with self._pin_lock:
            if self.pin is None:
                first = next((r.model for r in replies if r.model), None)
                self.pin = ModelPin(first, self._pin_source if first else NOT_TOLD)
            pin = self.pin
        if pin.identity is None:
            return ["" for _ in replies]
        return [r.model if r.model and r.model != pin.identity else pin.key for r in replies]
