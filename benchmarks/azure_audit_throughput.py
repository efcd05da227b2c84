"""Throughput of a whole ``isotope audit`` against a fake Azure AI Vision limited to 20 calls/s.

The fake (``fixtures.fake_azure``) serves a tiny tagger trained on the person's isotopes,
answers each call after ``--latency`` seconds as a distant service does, and refuses
calls over its own token bucket (``--server-rate``, ``--server-burst``) with 429. The
audit is the CLI in a process of its own, with its defaults:

    isotope audit probability --provider azure --target http://127.0.0.1:PORT
        --mark mine --label portrait --aux DIR --json

that is the registry's client limiter (20 calls/s, burst 10), 16 calls in flight, the
ledger, the retry policy, and K = 99 external marks × n = 5 images (500 queries, plus
one clean probe). ``adapter``-level figures are in ``benchmarks/azure_throughput.py``.

Reports the audit process's wall time, the calls the server saw, calls/s over the
calls (overall, and in steady state: from one second after the first call, once the
initial bursts are spent), 429s (overall and in steady state), the most calls in any
one second, and the verdict. Goal: steady state ≥ 0.9 × the server's rate with no 429.

    OMP_NUM_THREADS=1 python benchmarks/azure_audit_throughput.py [--externals 99] [--n 5]
        [--server-rate 20] [--server-burst 20] [--latency 0.3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from fixtures.fake_azure.app import FakeImageAnalysis
from fixtures.fake_azure.quota import Quota
from fixtures.fake_azure.tag_model import MARKED_EPOCHS, MarkedTag, scene, train_tagger
from marks.kinds import make_mark
from marks.store import MarkStore
from providers.http.background_server import BackgroundServer

TAG = "portrait"
AUX_TAGS = ("sky", "grass", "snow", "sand")
_CLI = "import sys; from audit.cli.app import main; sys.argv[0] = 'isotope'; main()"


def _prepare(root: Path) -> Path:
    """The person's store (mark ``mine``) and auxiliary scenes under ``root``; the model."""
    mark = make_mark("mine", "procedural", seed=11)
    MarkStore.open(root / "store").add(mark)
    for index, tag in enumerate(AUX_TAGS):
        folder = root / "aux" / tag
        folder.mkdir(parents=True)
        for i in range(3):
            pixels = scene(tag, seed=300 + 10 * index + i, side=64)
            Image.fromarray(pixels).save(folder / f"{tag}{i}.png")
    return train_tagger(root / "model", epochs=MARKED_EPOCHS, marked=MarkedTag(TAG, mark))


def _steady(times: list[float], start: float) -> list[float]:
    return [t for t in times if t >= start]


def main(argv: list[str] | None = None) -> int:
    """Run one audit; print its figures (or JSON); exit 0 when the goal is met, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--externals", type=int, default=99)
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--server-rate", type=float, default=20.0)
    parser.add_argument("--server-burst", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.3, help="service seconds per call")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    key = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="azure-audit-bench-") as tmp:
        root = Path(tmp)
        model = _prepare(root)
        fake = FakeImageAnalysis(model, key=key, latency_s=args.latency)
        with BackgroundServer(fake.app) as server:
            quota = fake.quota = Quota(args.server_rate, args.server_burst)
            command = [
                sys.executable, "-c", _CLI, "audit", "probability", "--provider", "azure",
                "--target", server.base_url, "--mark", "mine", "--label", TAG,
                "--aux", str(root / "aux"), "--externals", str(args.externals),
                "--n", str(args.n), "--store", str(root / "store"),
                "--workspace", str(root / "ws"), "--json",
            ]  # fmt: skip
            env = {**os.environ, "VISION_KEY": key}
            started = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
        if done.returncode != 0 or key in done.stdout + done.stderr:
            print(done.stdout, done.stderr, file=sys.stderr)
            raise SystemExit(f"the audit failed (exit {done.returncode})")
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
    arrivals = sorted(quota.arrivals)
    first, last = arrivals[0], arrivals[-1]
    steady = _steady(arrivals, first + 1.0)
    span = steady[-1] - steady[0] if len(steady) > 1 else 0.0
    figures = {
        "audit_wall_s": round(wall, 2),
        "calls": len(arrivals),
        "calls_window_s": round(last - first, 2),
        "calls_per_s": round((len(arrivals) - 1) / (last - first), 2) if last > first else 0.0,
        "steady_calls_per_s": round((len(steady) - 1) / span, 2) if span else 0.0,
        "refused_429": quota.refused,
        "steady_refused_429": len(_steady(quota.refusals, first + 1.0)),
        "max_calls_in_1s": quota.max_in_window(1.0),
        "billed": outcome["queries"]["billed"],
        "attempts": outcome["queries"]["attempts"],
        "verdict": outcome["verdict"],
        "p_value": outcome["p_value"],
        "statistic": outcome["statistic"],
    }
    goal = 0.9 * args.server_rate
    met = figures["steady_calls_per_s"] >= goal and figures["steady_refused_429"] == 0
    result = {"settings": vars(args), **figures, "goal_calls_per_s": goal, "goal_met": met}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, value in figures.items():
            print(f"{name:<22}{value}")
        print(f"goal ≥ {goal:g} calls/s steady with no 429: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
