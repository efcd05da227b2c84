"""Calibrate the local face engine on the ORL faces and measure its throughput.

Reads ``../shared/data/orl-faces`` (40 people × 10 grey 92×112 PGM; ``--data`` for
another copy) and reports, in one run:

- detection rate (HOG detector, upsampled to ≥ 200 px on the short side);
- descriptor distances of same-person and different-people pairs (mean, percentiles),
  their similarities under ``providers.faces_local.similarity``, the share of pairs at
  or above 80 and 90, and leave-one-out nearest-neighbour identification accuracy;
- in-process throughput: images per second through detect + describe one image at a
  time vs detecting each and describing all chips in one batched call (the ratio);
- over the wire (real boto3 against the engine on a free port): IndexFaces and
  SearchFacesByImage per second, one request at a time vs ``--concurrency`` at once.

    OMP_NUM_THREADS=1 python benchmarks/faces_calibration.py [--people 40] [--wire 80]
        [--workers 2] [--concurrency 2] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from providers.faces_local.engine import FaceEngine
from providers.faces_local.server import serve_in_background
from providers.faces_local.similarity import similarity

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "orl-faces"


def load_orl(root: Path, people: int) -> tuple[list[np.ndarray], list[int]]:
    """RGB arrays of ``s1..sN/1..10.pgm`` and their person numbers."""
    images, owners = [], []
    for person in range(1, people + 1):
        for shot in range(1, 11):
            with Image.open(root / f"s{person}" / f"{shot}.pgm") as image:
                images.append(np.asarray(image.convert("RGB")))
            owners.append(person)
    return images, owners


def _stats(values: np.ndarray) -> dict:
    return {
        "n": int(values.size),
        "mean": round(float(values.mean()), 4),
        "p01": round(float(np.percentile(values, 1)), 4),
        "p05": round(float(np.percentile(values, 5)), 4),
        "median": round(float(np.median(values)), 4),
        "p95": round(float(np.percentile(values, 95)), 4),
        "p99": round(float(np.percentile(values, 99)), 4),
    }


def calibrate(vectors: np.ndarray, owners: np.ndarray) -> dict:
    """Distance and similarity statistics of same-person and different-people pairs."""
    distances = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=2)
    upper = np.triu(np.ones_like(distances, dtype=bool), k=1)
    same = distances[upper & (owners[:, None] == owners[None, :])]
    different = distances[upper & (owners[:, None] != owners[None, :])]
    nearest = np.where(np.eye(len(owners), dtype=bool), np.inf, distances).argmin(axis=1)
    result: dict = {"identification_top1": round(float((owners[nearest] == owners).mean()), 4)}
    for name, values in (("same_person", same), ("different_people", different)):
        scores = similarity(values)
        result[name] = {
            "distance": _stats(values),
            "similarity": _stats(scores),
            "share_similarity_ge_80": round(float((scores >= 80).mean()), 4),
            "share_similarity_ge_90": round(float((scores >= 90).mean()), 4),
        }
    return result


def in_process(engine: FaceEngine, images: list[np.ndarray]) -> dict:
    """Images per second: detect + describe one at a time vs all chips in one call."""
    start = time.perf_counter()
    for image in images:
        faces = engine.detect(image)
        if faces:
            engine.describe([faces[0].chip])
    single = len(images) / (time.perf_counter() - start)
    start = time.perf_counter()
    chips = [faces[0].chip for faces in map(engine.detect, images) if faces]
    engine.describe(chips)
    batched = len(images) / (time.perf_counter() - start)
    return {
        "images": len(images),
        "one_at_a_time_per_s": round(single, 2),
        "batched_per_s": round(batched, 2),
        "batched_over_single": round(batched / single, 3),
    }


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def over_the_wire(engine: FaceEngine, images: list[np.ndarray], concurrency: int) -> dict:
    """IndexFaces and SearchFacesByImage per second through boto3, serial vs concurrent."""
    import boto3
    from botocore.config import Config

    blobs = [_png(image) for image in images]
    half = len(blobs) // 2
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve_in_background(Path(tmp), engine=engine) as server,
    ):
        client = boto3.client(
            "rekognition",
            endpoint_url=server.base_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}, max_pool_connections=concurrency),
        )
        client.create_collection(CollectionId="bench")

        def index(i: int) -> None:
            client.index_faces(
                CollectionId="bench", Image={"Bytes": blobs[i]}, ExternalImageId=f"i{i}", MaxFaces=1
            )

        def search(i: int) -> None:
            # A probe without a face is still a full request (detection ran).
            with contextlib.suppress(client.exceptions.InvalidParameterException):
                client.search_faces_by_image(
                    CollectionId="bench", Image={"Bytes": blobs[i]}, MaxFaces=10
                )

        def rate(call, indexes: range, workers: int) -> float:
            start = time.perf_counter()
            if workers == 1:
                for i in indexes:
                    call(i)
            else:
                with ThreadPoolExecutor(workers) as pool:
                    list(pool.map(call, indexes))
            return len(indexes) / (time.perf_counter() - start)

        result = {
            "index_serial_per_s": rate(index, range(half), 1),
            "index_concurrent_per_s": rate(index, range(half, len(blobs)), concurrency),
            "search_serial_per_s": rate(search, range(half), 1),
            "search_concurrent_per_s": rate(search, range(half, len(blobs)), concurrency),
        }
    result = {key: round(value, 2) for key, value in result.items()}
    result["index_concurrent_over_serial"] = round(
        result["index_concurrent_per_s"] / result["index_serial_per_s"], 3
    )
    result["search_concurrent_over_serial"] = round(
        result["search_concurrent_per_s"] / result["search_serial_per_s"], 3
    )
    result["requests"] = len(blobs) * 2
    result["concurrency"] = concurrency
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the calibration; print a summary (or JSON); return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--throughput-images", type=int, default=80)
    parser.add_argument("--wire", type=int, default=80, help="images sent over the wire")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not (args.data / "s1" / "1.pgm").is_file():
        print(
            f"ORL faces not found at {args.data}: this benchmark needs ../shared/data/orl-faces "
            "(or --data DIR with s1..s40/1..10.pgm)",
            file=sys.stderr,
        )
        return 2

    images, owners = load_orl(args.data, args.people)
    engine = FaceEngine(workers=args.workers)
    start = time.perf_counter()
    detections = [engine.detect(image) for image in images]
    detect_s = time.perf_counter() - start
    found = [i for i, faces in enumerate(detections) if faces]
    start = time.perf_counter()
    vectors = engine.describe([detections[i][0].chip for i in found])
    describe_s = time.perf_counter() - start
    result = {
        "data": str(args.data),
        "face_model_version": engine.version,
        "images": len(images),
        "detected": len(found),
        "detection_rate": round(len(found) / len(images), 4),
        "upsampling": engine.upsampling(*images[0].shape[:2]),
        "detect_ms_per_image": round(1000 * detect_s / len(images), 1),
        "describe_ms_per_face": round(1000 * describe_s / max(1, len(found)), 1),
        **calibrate(vectors, np.asarray([owners[i] for i in found])),
        "in_process": in_process(engine, images[: args.throughput_images]),
        "over_the_wire": over_the_wire(engine, images[: args.wire], args.concurrency),
        "workers": args.workers,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"ORL faces: {result['detected']}/{result['images']} detected "
        f"({result['detection_rate']:.1%}), upsampled ×{2 ** result['upsampling']}, "
        f"{result['detect_ms_per_image']} ms detect/image, "
        f"{result['describe_ms_per_face']} ms describe/face"
    )
    for name in ("same_person", "different_people"):
        part = result[name]
        d, s = part["distance"], part["similarity"]
        print(
            f"{name:<17} pairs {d['n']:>6}  distance mean {d['mean']:.3f} median {d['median']:.3f} "
            f"p01 {d['p01']:.3f} p99 {d['p99']:.3f} | similarity mean {s['mean']:.1f} "
            f"median {s['median']:.1f} | ≥80 {part['share_similarity_ge_80']:.2%} "
            f"≥90 {part['share_similarity_ge_90']:.2%}"
        )
    print(f"nearest-neighbour identification: {result['identification_top1']:.1%}")
    p = result["in_process"]
    print(
        f"in process ({p['images']} images): one at a time {p['one_at_a_time_per_s']}/s, "
        f"batched {p['batched_per_s']}/s, ratio {p['batched_over_single']}"
    )
    w = result["over_the_wire"]
    print(
        f"over boto3 ({w['requests']} requests, {args.workers} model sets): IndexFaces "
        f"{w['index_serial_per_s']}/s serial, {w['index_concurrent_per_s']}/s at "
        f"{w['concurrency']} (×{w['index_concurrent_over_serial']}); SearchFacesByImage "
        f"{w['search_serial_per_s']}/s serial, {w['search_concurrent_per_s']}/s "
        f"(×{w['search_concurrent_over_serial']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
