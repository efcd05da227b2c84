"""Only regular files are read: FIFOs, devices and oversized files are refused by name."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from marks import regular_file
from marks.errors import ImageError
from marks.kinds import make_mark
from marks.marking import mark_folder
from marks.store import MarkStore

ROOT = Path(__file__).resolve().parents[2]


def _run_limited(code: str, *, memory_bytes: int = 2 << 30, timeout: float = 60) -> str:
    """Run ``code`` in a fresh interpreter with its address space capped; return stderr+out."""
    prelude = textwrap.dedent(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({memory_bytes}, {memory_bytes}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    return done.stdout + done.stderr


def _release_after(fifo: Path, seconds: float) -> threading.Timer:
    """Open ``fifo`` for writing after ``seconds``, so a reader stuck on it gets EOF.

    Without the fix a reader would wait forever; this turns the hang into a failure.
    """

    def release() -> None:
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(seconds, release)
    timer.daemon = True
    timer.start()
    return timer


def test_fifo_as_mark_image_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "sticker.png"
    os.mkfifo(fifo)
    timer = _release_after(fifo, 5)
    started = time.monotonic()
    with pytest.raises(ImageError, match="FIFO") as caught:
        make_mark("x", "overlay", seed=1, image=fifo)
    timer.cancel()
    assert time.monotonic() - started < 4
    assert str(fifo) in str(caught.value) and "only regular files" in str(caught.value)


def test_dev_zero_as_mark_image_is_refused_without_reading_it() -> None:
    # Before: read_bytes() on /dev/zero grows until the kernel (or this cap) stops it.
    output = _run_limited(
        """
        from marks.errors import ImageError
        from marks.kinds import make_mark
        try:
            make_mark("x", "blend", seed=1, image="/dev/zero")
        except ImageError as exc:
            print("REFUSED", exc)
        """
    )
    assert "REFUSED /dev/zero: cannot read a character device: only regular files" in output, output


def test_special_files_in_a_source_folder_are_failures_naming_them(
    photos: Path, store: MarkStore, tmp_path: Path
) -> None:
    os.mkfifo(photos / "pipe.jpg")
    timer = _release_after(photos / "pipe.jpg", 10)
    with open(photos / "huge.jpg", "wb") as fh:  # sparse: costs no disk
        fh.truncate(regular_file.MAX_FILE_BYTES + 1)
    result = mark_folder(photos, tmp_path / "out", store.get("t"), fraction=1.0, store=store)
    timer.cancel()
    failed = {f.path: f.error for f in result.failed}
    assert set(failed) == {"pipe.jpg", "huge.jpg"}
    assert "FIFO" in failed["pipe.jpg"]
    assert "over the" in failed["huge.jpg"]
    assert result.marked == 21
    assert not any((tmp_path / "out" / name).exists() for name in failed)


def test_dev_zero_symlink_in_a_folder_does_not_exhaust_memory(
    photos: Path, store: MarkStore, tmp_path: Path
) -> None:
    # In a child with capped memory: before the fix this read grows without bound.
    (photos / "zero.jpg").symlink_to("/dev/zero")
    output = _run_limited(
        f"""
        from pathlib import Path
        from marks.marking import mark_folder
        from marks.store import MarkStore
        store = MarkStore.open(Path({str(store.root)!r}))
        result = mark_folder(Path({str(photos)!r}), Path({str(tmp_path / "out")!r}),
                             store.get("t"), fraction=1.0, store=store, workers=2)
        print("FAILED", [(f.path, f.error) for f in result.failed])
        """
    )
    assert "FAILED [('zero.jpg', 'cannot read a character device" in output, output


def test_read_regular_reads_a_symlinked_photo_and_checks_the_limit(tmp_path: Path) -> None:
    real = tmp_path / "real.jpg"
    real.write_bytes(b"x" * 100)
    (tmp_path / "link.jpg").symlink_to(real)
    assert regular_file.read_regular(tmp_path / "link.jpg") == b"x" * 100
    assert regular_file.read_regular(real, max_bytes=100) == b"x" * 100
    with pytest.raises(ImageError, match="100 bytes, over the 99-byte limit"):
        regular_file.read_regular(real, max_bytes=99)
    with pytest.raises(ImageError, match="cannot read a folder: only regular files"):
        regular_file.read_regular(tmp_path)
    with pytest.raises(ImageError, match="No such file"):
        regular_file.read_regular(tmp_path / "missing.jpg")
