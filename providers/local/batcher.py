"""Merge concurrent requests into one model batch.

Each request's images go through the model together; requests that arrive while the
model is busy (or within ``max_wait_s`` of each other) are concatenated into the next
batch, up to ``max_images``. One worker thread owns the model, so torch is never
called from two threads at once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np

_STOP = object()


class MicroBatcher:
    """Run ``fn`` (uint8 batch → per-image rows) over merged submissions."""

    def __init__(
        self,
        fn: Callable[[np.ndarray], np.ndarray],
        *,
        max_images: int = 512,
        max_wait_s: float = 0.002,
    ) -> None:
        self._fn = fn
        self._max_images = max_images
        self._max_wait_s = max_wait_s
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self.batches = 0  # how many model calls ran (for tests and metrics)

    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="micro-batcher", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Finish queued work, then stop the worker."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, images: np.ndarray) -> Future:
        """Queue a uint8 batch (N, S, S, 3); the future resolves to ``fn``'s N rows."""
        if self._thread is None:
            raise RuntimeError("micro-batcher is not running")
        future: Future = Future()
        self._queue.put((images, future))
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            pending = [item]
            count = len(item[0])
            deadline = time.monotonic() + self._max_wait_s
            stop = False
            while count < self._max_images:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                pending.append(nxt)
                count += len(nxt[0])
            self._run(pending)
            if stop:
                return

    def _run(self, pending: list[tuple[np.ndarray, Future]]) -> None:
        live = [(x, f) for x, f in pending if f.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            rows = self._fn(np.concatenate([x for x, _ in live]))
            self.batches += 1
        except Exception as exc:  # hand the failure to every waiting request
            for _, future in live:
                future.set_exception(exc)
            return
        start = 0
        for x, future in live:
            future.set_result(rows[start : start + len(x)])
            start += len(x)
