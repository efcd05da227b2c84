"""Audit throughput against a fake Azure AI Vision limited to 20 calls/s, through the real SDK.

The fake (``fixtures.fake_azure``) refuses calls over its token bucket with 429 and
answers each call after ``--latency`` seconds, as a distant service does. The client
is what an audit runs: ``AzureTagger`` calls in ``--concurrency`` threads, each call
taking a token from ``providers.rate_limit.RateLimiter`` first and retried by
``providers.retry.RetryPolicy`` (the ledger's loop, without its SQLite). The baseline,
in the same run, sends one call at a time through the same limiter and retry policy.

Reports calls/s (overall, and in steady state: after the first second, once the
initial burst is spent), 429s (overall and in steady state), the most calls the
server saw in any one second, and the ratio to the baseline. Goal: steady state
≥ 0.9 × the server's rate with no 429.

The client's rate and burst default to the registry's (``providers.azure.spec.SPEC``).

    python benchmarks/azure_throughput.py [--calls 300] [--rate 20] [--burst 10]
        [--server-rate 20] [--server-burst 20] [--concurrency 16] [--latency 0.3]
        [--baseline-calls 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from fixtures.fake_azure.app import FakeImageAnalysis
from fixtures.fake_azure.quota import Quota
from fixtures.fake_azure.tag_model import TAGS, scene, train_tagger
from providers.azure.credentials import key_auth
from providers.azure.spec import SPEC
from providers.azure.tagger import AzureTagger
from providers.http.background_server import BackgroundServer
from providers.query import QueryImage
from providers.rate_limit import RateLimiter
from providers.retry import RetryPolicy


@dataclass(frozen=True)
class Run:
    """What one client run achieved, as the server counted it."""

    calls: int
    seconds: float
    calls_per_s: float
    steady_calls_per_s: float
    refused_429: int
    steady_refused_429: int
    max_calls_in_1s: int


def _queries(n: int, offset: int) -> list[QueryImage]:
    """Distinct 64×64 PNG scenes (every call of an audit is a different image)."""
    return [
        QueryImage.from_array(scene(TAGS[i % len(TAGS)], seed=offset + i), base=str(offset + i))
        for i in range(n)
    ]


def _measure(
    fake: FakeImageAnalysis,
    tagger: AzureTagger,
    queries: list[QueryImage],
    *,
    rate: float,
    burst: int,
    server_rate: float,
    server_burst: int,
    workers: int,
) -> Run:
    quota = Quota(server_rate, server_burst)
    fake.quota = quota
    limiter = RateLimiter(rate, burst)
    retry = RetryPolicy(max_attempts=8, max_total_s=120.0)

    def one(image: QueryImage) -> None:
        def call() -> object:
            limiter.acquire()
            return tagger.classify([image])

        retry.call(call, operation="azure classify (benchmark)")

    start = time.monotonic()
    with ThreadPoolExecutor(workers, thread_name_prefix="bench") as pool:
        list(pool.map(one, queries))
    seconds = time.monotonic() - start
    fake.quota = None
    arrivals = sorted(quota.arrivals)
    first = arrivals[0]
    steady = [t for t in arrivals if t >= first + 1.0]
    steady_span = (steady[-1] - steady[0]) if len(steady) > 1 else 0.0
    steady_refused = sum(1 for t in quota.refusals if t >= first + 1.0)
    return Run(
        calls=len(queries),
        seconds=round(seconds, 3),
        calls_per_s=round(len(queries) / seconds, 2),
        steady_calls_per_s=round((len(steady) - 1) / steady_span, 2) if steady_span else 0.0,
        refused_429=quota.refused,
        steady_refused_429=steady_refused,
        max_calls_in_1s=quota.max_in_window(1.0),
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table (or JSON); exit 0 when the goal is met, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rate", type=float, default=SPEC.rate.per_s, help="client calls/s")
    parser.add_argument("--burst", type=int, default=SPEC.rate.burst, help="client burst")
    parser.add_argument("--server-rate", type=float, default=20.0)
    parser.add_argument("--server-burst", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.3, help="service seconds per call")
    parser.add_argument("--baseline-calls", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    key = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="azure-bench-") as tmp:
        model = train_tagger(Path(tmp))
        fake = FakeImageAnalysis(model, key=key, latency_s=args.latency)
        with BackgroundServer(fake.app) as server:
            auth_key = key_auth(key, source="benchmark").credential
            with AzureTagger(
                server.base_url, credential=auth_key, max_concurrency=args.concurrency
            ) as tagger:
                tagger.classify(_queries(1, 10**6))  # warm up: imports, first connection
                time.sleep(1.0)  # let the server's bucket refill before measuring
                common = {
                    "rate": args.rate,
                    "burst": args.burst,
                    "server_rate": args.server_rate,
                    "server_burst": args.server_burst,
                }
                baseline = _measure(
                    fake, tagger, _queries(args.baseline_calls, 0), workers=1, **common
                )
                time.sleep(1.0)
                audit = _measure(
                    fake,
                    tagger,
                    _queries(args.calls, args.baseline_calls),
                    workers=tagger.max_concurrency,
                    **common,
                )
    goal = 0.9 * args.server_rate
    met = audit.steady_calls_per_s >= goal and audit.steady_refused_429 == 0
    result = {
        "settings": vars(args),
        "baseline_sequential": asdict(baseline),
        "audit_concurrent": asdict(audit),
        "ratio_vs_baseline": round(audit.calls_per_s / baseline.calls_per_s, 2),
        "goal_calls_per_s": goal,
        "goal_met": met,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{'run':<22}{'calls':>7}{'calls/s':>10}{'steady/s':>10}{'429s':>6}"
              f"{'steady 429s':>13}{'max in 1 s':>12}")  # fmt: skip
        for name, run in (("sequential baseline", baseline), ("audit (concurrent)", audit)):
            print(
                f"{name:<22}{run.calls:>7}{run.calls_per_s:>10.2f}{run.steady_calls_per_s:>10.2f}"
                f"{run.refused_429:>6}{run.steady_refused_429:>13}{run.max_calls_in_1s:>12}"
            )
        print(f"ratio vs baseline: {result['ratio_vs_baseline']:.2f}×; goal ≥ {goal:g} calls/s "
              f"steady with no 429: {'met' if met else 'NOT met'}")  # fmt: skip
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
