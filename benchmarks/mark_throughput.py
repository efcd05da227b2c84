"""Marking throughput: ``mark_folder`` vs a naive Pillow loop vs the decode+encode floor.

Workload: 1,000 distinct 256×256 JPEG photos (quality 90, 4:2:0, like a camera's),
cut at random from the real photos in ``../shared/data/mark-photos`` (synthetic smooth
pictures when that folder is missing; the run says so); ``--side`` sets another size
(crops smaller than it are upscaled). All three contenders write
JPEG at quality 95 with 4:4:4 chroma, the engine's stated setting, and all are timed
in the same run (``--repeats`` rounds in rotating order; ratios per round, median):

- naive: one image at a time: open, convert, ``Image.blend`` with the mark resized to
  the image, save;
- floor: Pillow decode and encode only (no blend, no hashing, no manifest), both one
  at a time and with the same thread count as the engine; the threaded floor is the
  target;
- turbo floor: the same with simplejpeg (libjpeg-turbo's TurboJPEG API), the codec the
  engine itself uses for plain JPEGs, threaded: the floor of the engine's own codec,
  reported so the engine's overhead over it is visible too;
- engine: ``marks.marking.mark_folder`` with fraction 1.0 (every image blended), also
  with one worker (to split its gain over the naive loop into less work per image and
  parallelism), and with the default fraction 0.1 for reference.

Run: ``python benchmarks/mark_throughput.py [--n 1000] [--side 256] [--repeats 3]
[--workers N]``.
Results go to stdout and ``benchmarks/results/mark_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import simplejpeg
from PIL import Image

from marks.kinds import make_mark
from marks.marking import mark_folder
from marks.store import MarkStore

ALPHA = 0.4
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mark-photos"


def make_photos(folder: Path, n: int, side: int = 256, seed: int = 0) -> str:
    """Write ``n`` distinct ``side``×``side`` JPEGs; return where their pixels came from.

    Each is a random square crop of a real photo (at least ``side/2`` on its short
    edge), mirrored at random and resized to ``side`` when the crop is smaller.
    """
    rng = np.random.default_rng(seed)
    sources = []
    if DATA.is_dir():
        for path in sorted(DATA.iterdir()):
            if path.suffix.lower() in (".jpg", ".png"):
                with Image.open(path) as im:
                    rgb = im.convert("RGB")
                if min(rgb.size) >= side // 2:
                    sources.append(np.asarray(rgb))
    origin = f"random crops of {len(sources)} photos in {DATA.resolve()}"
    if not sources:
        origin = f"synthetic pictures ({DATA} not found)"
    folder.mkdir(parents=True)
    for i in range(n):
        if sources:
            photo = sources[i % len(sources)]
            crop = min(side, *photo.shape[:2])
            top = rng.integers(0, photo.shape[0] - crop + 1)
            left = rng.integers(0, photo.shape[1] - crop + 1)
            tile = photo[top : top + crop, left : left + crop]
            if rng.random() < 0.5:
                tile = tile[:, ::-1]
        else:
            tile = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        picture = Image.fromarray(np.ascontiguousarray(tile))
        if picture.size != (side, side):
            picture = picture.resize((side, side), Image.Resampling.BICUBIC)
        picture.save(folder / f"{i:04d}.jpg", quality=90)
    return origin


def naive(src: Path, out: Path, mark_image: Image.Image) -> None:
    """The per-image Pillow loop a first version would write."""
    out.mkdir()
    for path in sorted(src.iterdir()):
        with Image.open(path) as im:
            rgb = im.convert("RGB")
            overlay = mark_image.resize(rgb.size)
            Image.blend(rgb, overlay, ALPHA).save(out / path.name, quality=95, subsampling=0)


def floor_one(path: Path, out: Path) -> None:
    """Decode and encode one file, nothing else."""
    with Image.open(path) as im:
        im.save(out / path.name, quality=95, subsampling=0)


def turbo_floor_one(path: Path, out: Path) -> None:
    """Decode and encode one file with libjpeg-turbo directly, nothing else."""
    rgb = simplejpeg.decode_jpeg(path.read_bytes(), colorspace="RGB")
    data = simplejpeg.encode_jpeg(rgb, quality=95, colorspace="RGB", colorsubsampling="444")
    (out / path.name).write_bytes(data)


def floor(src: Path, out: Path, workers: int, one=floor_one) -> None:
    """Decode + encode every file with ``one``, ``workers`` at a time."""
    out.mkdir()
    paths = sorted(src.iterdir())
    if workers == 1:
        for path in paths:
            one(path, out)
        return
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, paths, [out] * len(paths)))


def measure(contenders: dict, rounds: int, out: Path) -> dict[str, dict[str, list[float]]]:
    """Run every contender once per round, in a rotating order, each into a fresh ``out``.

    Returns per contender its wall and CPU times (all threads), one per round.
    Ratios are taken within a round, where the contenders ran back to back: this
    shared machine's speed drifts by tens of percent over minutes, so comparing one
    contender's lucky minute with another's unlucky one would measure the drift.
    """
    times: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n in contenders}
    names = list(contenders)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            shutil.rmtree(out, ignore_errors=True)
            wall, cpu = time.perf_counter(), time.process_time()
            contenders[name](out)
            times[name]["wall"].append(time.perf_counter() - wall)
            times[name]["cpu"].append(time.process_time() - cpu)
    shutil.rmtree(out, ignore_errors=True)
    return times


def speed_ratio(times: dict, fast: str, slow: str) -> dict[str, float]:
    """Throughput of ``fast`` over ``slow``, per round: median, min and max."""
    per_round = np.array(times[slow]["wall"]) / np.array(times[fast]["wall"])
    return {
        "median": round(float(np.median(per_round)), 3),
        "min": round(float(per_round.min()), 3),
        "max": round(float(per_round.max()), 3),
    }


def main() -> int:
    """Run the benchmark and print images/s and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--side", type=int, default=256, help="photo width and height")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        origin = make_photos(tmp / "src", args.n, args.side)
        store = MarkStore.open(tmp / "store")
        store.add(make_mark("bench", "procedural", seed=1))
        mark = store.get("bench")
        mark_image = Image.fromarray(np.round(mark.pixels * 255).astype(np.uint8))
        src, out = tmp / "src", tmp / "out"

        def engine(fraction: float, workers: int = args.workers):
            return lambda o: mark_folder(
                src,
                o,
                mark,
                alpha=ALPHA,
                fraction=fraction,
                seed=0,
                store=store,
                workers=workers,
            )

        timings = measure(
            {
                "naive_loop": lambda o: naive(src, o, mark_image),
                "floor_sequential": lambda o: floor(src, o, 1),
                "floor_threaded": lambda o: floor(src, o, args.workers),
                "turbo_floor_threaded": lambda o: floor(src, o, args.workers, turbo_floor_one),
                "engine_fraction_1.0": engine(1.0),
                "engine_fraction_1.0_one_worker": engine(1.0, workers=1),
                "engine_fraction_0.1": engine(0.1),
            },
            args.repeats,
            out,
        )
    rate = {name: args.n / float(np.median(t["wall"])) for name, t in timings.items()}
    cpu_ms = {name: 1000 * float(np.median(t["cpu"])) / args.n for name, t in timings.items()}
    engine = "engine_fraction_1.0"
    ratios = {
        "engine_vs_floor_threaded": speed_ratio(timings, engine, "floor_threaded"),
        "engine_vs_naive": speed_ratio(timings, engine, "naive_loop"),
        "engine_vs_floor_sequential": speed_ratio(timings, engine, "floor_sequential"),
        "engine_vs_turbo_floor_threaded": speed_ratio(timings, engine, "turbo_floor_threaded"),
        # engine_vs_naive = one_worker_engine_vs_naive x engine_parallel_speedup:
        # how much less work per image, times what the cores give in parallel.
        "one_worker_engine_vs_naive": speed_ratio(
            timings, "engine_fraction_1.0_one_worker", "naive_loop"
        ),
        "engine_parallel_speedup": speed_ratio(timings, engine, "engine_fraction_1.0_one_worker"),
        "floor_parallel_speedup": speed_ratio(timings, "floor_threaded", "floor_sequential"),
        "engine_fraction_0.1_vs_naive": speed_ratio(timings, "engine_fraction_0.1", "naive_loop"),
    }
    report = {
        "images": args.n,
        "size": f"{args.side}x{args.side} JPEG",
        "pixels_from": origin,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "rounds": args.repeats,
        "images_per_s_median": {k: round(v, 1) for k, v in rate.items()},
        "cpu_ms_per_image_median": {k: round(v, 3) for k, v in cpu_ms.items()},
        "ratios_per_round": ratios,
        "goals": {"engine_vs_floor_threaded": ">= 0.8", "engine_vs_naive": ">= 2"},
        "goals_met_by_median": {
            "engine_vs_floor_threaded": ratios["engine_vs_floor_threaded"]["median"] >= 0.8,
            "engine_vs_naive": ratios["engine_vs_naive"]["median"] >= 2,
        },
    }
    text = json.dumps(report, indent=2)
    print(text)
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "mark_throughput.json").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
