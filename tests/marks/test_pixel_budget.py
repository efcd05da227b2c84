"""Huge photos: decoded pixels are capped across workers, and large blends are not cached."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import simplejpeg
from PIL import Image

from marks.blend import CACHED_MAX_PIXELS
from marks.pixel_budget import PixelBudget

ROOT = Path(__file__).resolve().parents[2]


def test_budget_caps_what_threads_hold_and_lets_a_huge_image_run_alone() -> None:
    budget = PixelBudget(100)
    held: list[int] = []
    now = {"total": 0}
    lock = threading.Lock()

    def work(pixels: int) -> None:
        with budget.hold(pixels):
            with lock:
                now["total"] += min(pixels, 100)
                held.append(now["total"])
            time.sleep(0.02)
            with lock:
                now["total"] -= min(pixels, 100)

    threads = [threading.Thread(target=work, args=(p,)) for p in [60, 60, 30, 500, 10, 40]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert max(held) <= 100 and budget.peak <= 100
    assert len(held) == 6  # the 500-pixel image ran too (alone)


def test_two_huge_jpegs_take_the_memory_of_about_one(tmp_path: Path) -> None:
    # Two 17-megapixel photos (over the blend cache's size limit) marked by 2 workers
    # under a 20-megapixel budget: they are processed one at a time, without per-size
    # caches. Before, both were held at once with ~28 bytes per pixel of cached terms
    # each, kept after the run: about 1 GB here, 9 GB for two 88-megapixel photos.
    width, height = 5000, 3400
    assert width * height > CACHED_MAX_PIXELS
    src = tmp_path / "src"
    src.mkdir()
    for i in range(2):
        small = np.random.default_rng(i).integers(0, 256, (height // 50, width // 50, 3), np.uint8)
        big = np.asarray(Image.fromarray(small).resize((width + 8 * i, height)))
        (src / f"big{i}.jpg").write_bytes(simplejpeg.encode_jpeg(big, quality=85))
    code = textwrap.dedent(
        f"""
        import resource
        from pathlib import Path
        from marks.kinds import make_mark
        from marks.marking import mark_folder
        from marks.store import MarkStore
        store = MarkStore.open(Path({str(tmp_path / "store")!r}))
        store.add(make_mark("t", "procedural", seed=7))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = mark_folder(Path({str(src)!r}), Path({str(tmp_path / "out")!r}),
                             store.get("t"), fraction=1.0, store=store, workers=2,
                             pixel_budget=20_000_000)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print("GROWTH", (after - before) * 1024, result.marked, len(result.failed))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("GROWTH")), None)
    assert line is not None, done.stderr
    growth, marked, failed = (int(v) for v in line.split()[1:])
    assert (marked, failed) == (2, 0)
    pixels = width * height
    # One image at a time (decoded, blended, the mark's uint8 planes, file bytes)
    # measured 11 bytes per pixel; both at once 30, and cached terms add 28 more.
    assert growth < 20 * pixels, f"{growth / pixels:.1f} bytes per pixel"
