"""Audit queries per second against the local model server: batched + concurrent vs naive.

Same run, same server, same images: a naive loop sends one image per request, one
request at a time; the audit client (``LocalClassifier``) sends ``--batch`` images per
request on ``--concurrency`` connections, and the server's micro-batcher merges
concurrent requests on the model. Reports queries/s for each and the ratio (goal on
CPU: ≥ 5×). The model has random weights (throughput does not depend on accuracy).

    python benchmarks/server_throughput.py [--images 512] [--batch 64] [--concurrency 4]
        [--arch small] [--size 32] [--repeats 3] [--device auto] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from audit.demo.data import LABELS, generate_arrays
from marks.blend import blend
from marks.kinds import make_mark
from providers.local.arch import build_model
from providers.local.client import LocalClassifier
from providers.local.model_file import ModelMeta, save_model
from providers.local.server import serve_in_background
from providers.query import QueryImage


def _queries(n: int, size: int) -> list[QueryImage]:
    """Audit-like queries: generated images blended with a procedural mark, as PNG."""
    x, _ = generate_arrays(-(-n // len(LABELS)), seed=123)
    x = x[:n]
    if size != x.shape[1]:
        x = np.stack([np.asarray(Image.fromarray(im).resize((size, size))) for im in x])
    marked = blend(x, make_mark("bench", "procedural", seed=1), 0.4)
    return [QueryImage.from_array(im, base=str(i)) for i, im in enumerate(marked)]


def _rate(client: LocalClassifier, queries: list[QueryImage], per_call: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(queries), per_call):
        client.classify(queries[i : i + per_call])
    return len(queries) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table (or JSON); return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--arch", default="small", choices=["small", "resnet18"])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = build_model(args.arch, len(LABELS), [0.5] * 3, [0.25] * 3).eval()
    queries = _queries(args.images, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        path = save_model(
            Path(tmp) / "bench.pt",
            model,
            ModelMeta(args.arch, list(LABELS), args.size, [0.5] * 3, [0.25] * 3),
        )
        with serve_in_background(path, device=args.device) as server:
            naive = LocalClassifier(server.base_url, max_batch=1, max_concurrency=1)
            batched = LocalClassifier(server.base_url, max_batch=args.batch, max_concurrency=1)
            audit = LocalClassifier(
                server.base_url, max_batch=args.batch, max_concurrency=args.concurrency
            )
            for client in (naive, batched, audit):  # warm-up: connections, kernels, labels
                client.classify(queries[: args.batch])
            rates: dict[str, list[float]] = {"naive": [], "batched": [], "batched+concurrent": []}
            for _ in range(args.repeats):
                rates["naive"].append(_rate(naive, queries, 1))
                rates["batched"].append(_rate(batched, queries, len(queries)))
                rates["batched+concurrent"].append(_rate(audit, queries, len(queries)))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    result = {
        "device": "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu",
        "torch_threads": torch.get_num_threads(),
        "images": args.images,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "arch": args.arch,
        "size": args.size,
        "repeats": args.repeats,
        "queries_per_s": {k: round(v, 1) for k, v in medians.items()},
        "speedup_vs_naive": {
            k: round(v / medians["naive"], 2) for k, v in medians.items() if k != "naive"
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{'client':<22}{'queries/s':>12}{'× naive':>10}")
        for name, rate in medians.items():
            print(f"{name:<22}{rate:>12.1f}{rate / medians['naive']:>10.2f}")
        print(
            f"({result['device']}, {args.arch} {args.size}px, {args.images} images, "
            f"batch {args.batch}, concurrency {args.concurrency}, median of {args.repeats})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
