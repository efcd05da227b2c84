"""A cap on the pixels that worker threads hold decoded at once.

Marking one image holds its decoded pixels, the blended copy and the mark resized to
its size: about 16 bytes per pixel for a large photo. Threads reserve an image's
pixel count before decoding it and release it when done; a reservation waits while
the others would take the total over the cap, and an image larger than the cap
waits until it runs alone. Memory then stays near ``16 · limit`` bytes whatever the
number of workers or the size of the photos.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

# 100 megapixels: one image at Pillow's 89.5-megapixel limit, or eight 12-megapixel
# phone photos at a time; about 1.6 GB at 16 bytes per pixel.
DEFAULT_PIXEL_BUDGET = 100_000_000


class PixelBudget:
    """Pixels held decoded at once across threads, at most ``limit`` (see module docstring)."""

    def __init__(self, limit: int = DEFAULT_PIXEL_BUDGET) -> None:
        if limit < 1:
            raise ValueError(f"pixel budget must be positive, got {limit}")
        self.limit = limit
        self._used = 0
        self._peak = 0
        self._ready = threading.Condition()

    @property
    def peak(self) -> int:
        """The most pixels held at once so far (for tests and measurements)."""
        return self._peak

    @contextlib.contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        """Reserve ``pixels`` (capped at the limit) for the duration of the block."""
        want = max(0, min(int(pixels), self.limit))
        with self._ready:
            self._ready.wait_for(lambda: self._used + want <= self.limit)
            self._used += want
            self._peak = max(self._peak, self._used)
        try:
            yield
        finally:
            with self._ready:
                self._used -= want
                self._ready.notify_all()
