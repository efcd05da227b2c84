"""Per-query prices of each provider: one table, overridable by the user.

Public list prices (2026) as the services publish them; converted to dollars per
query, the unit the budget counts. Override with ``--price-per-query`` or a TOML file::

    [prices]            # USD per query
    vertex = 0.0005
    azure = 0.001
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import platformdirs

PRICES_ENV = "ISOTOPE_PRICES"
"""Environment variable naming a prices TOML file."""

VERTEX_NODE_HOUR_USD = 1.375
"""Vertex AI AutoML image online prediction, per deployed node hour (list price 2026)."""
VERTEX_QUERIES_PER_NODE_HOUR = 3600
"""Assumed throughput for the per-query estimate: one prediction per second per node."""


@dataclass(frozen=True)
class Price:
    """What one query costs on a provider, and where the figure comes from."""

    per_query_usd: float
    source: str


PRICES: dict[str, Price] = {
    "vertex": Price(
        VERTEX_NODE_HOUR_USD / VERTEX_QUERIES_PER_NODE_HOUR,
        "AutoML image online prediction $1.375 per node hour, assumed 1 query/s; "
        "a deployed endpoint also bills idle node hours",
    ),
    "rekognition": Price(0.001, "Rekognition image APIs $1.00 per 1,000 images (first 1M)"),
    "azure": Price(0.001, "Azure AI Vision Image Analysis S1 $1.00 per 1,000 transactions"),
    "local": Price(0.0, "your own machine"),
    "mock": Price(0.0, "in-process simulation"),
}


class PriceError(ValueError):
    """A price file or override is unusable; the message says which and why."""


def default_prices_file() -> Path | None:
    """``$ISOTOPE_PRICES``, else ``prices.toml`` in the user config dir if it exists."""
    env = os.environ.get(PRICES_ENV)
    if env:
        return Path(env)
    path = Path(platformdirs.user_config_dir("isotope-audit")) / "prices.toml"
    return path if path.is_file() else None


def load_price_file(path: Path) -> dict[str, float]:
    """Read ``[prices] provider = usd_per_query`` from a TOML file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PriceError(f"price file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PriceError(f"price file {path} is not readable TOML: {exc}") from None
    table = data.get("prices")
    if not isinstance(table, dict):
        raise PriceError(f"price file {path} has no [prices] table")
    out: dict[str, float] = {}
    for provider, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise PriceError(
                f"price file {path}: prices.{provider} must be a number >= 0 (USD per query), "
                f"got {value!r}"
            )
        out[provider] = float(value)
    return out


def price_per_query(
    provider: str, *, override: float | None = None, prices_file: Path | None = None
) -> float:
    """USD per query for ``provider``: ``override``, else the price file, else the table."""
    if override is not None:
        if not override >= 0:
            raise PriceError(f"--price-per-query must be >= 0, got {override}")
        return float(override)
    path = prices_file if prices_file is not None else default_prices_file()
    if path is not None:
        table = load_price_file(path)
        if provider in table:
            return table[provider]
    if provider not in PRICES:
        raise PriceError(
            f"no price known for provider {provider!r}: pass --price-per-query or add it "
            "to a prices file"
        )
    return PRICES[provider].per_query_usd
