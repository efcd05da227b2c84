"""What each billed operation costs: the registry's price rows, overridable by the user.

Prices are public list prices in each provider's ``spec.py``, in dollars per operation
(``query`` for a classification, ``search``/``index`` for face collections). Override
them with ``--price-per-query`` or a TOML file (``--prices``, ``$ISOTOPE_PRICES``, or
``prices.toml`` in the user config folder)::

    [prices]            # USD per query
    vertex = 0.0005
    [prices.rekognition]  # USD per operation
    search = 0.0008
"""

from __future__ import annotations

import math
import os
import tomllib
from pathlib import Path

import platformdirs

from audit.errors import AuditInputError
from providers import registry
from providers.spec import ProviderKind

PRICES_ENV = "ISOTOPE_PRICES"
"""Environment variable naming a prices TOML file."""
MAX_PRICE_FILE_BYTES = 1_000_000
"""A price file is a few lines; anything larger is not one."""


class PriceError(AuditInputError):
    """A price file or override is unusable; the message says which and why."""


def default_prices_file() -> Path | None:
    """``$ISOTOPE_PRICES``, else ``prices.toml`` in the user config dir if it exists."""
    env = os.environ.get(PRICES_ENV)
    if env:
        return Path(env)
    path = Path(platformdirs.user_config_dir("isotope-audit")) / "prices.toml"
    return path if path.is_file() else None


def _check_price(value: object, where: str) -> float:
    # A positive price under a billionth of a dollar is a typo (1e-320 would make a
    # budget's capacity overflow).
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not (value == 0 or 1e-9 <= value <= 1_000)
    ):
        raise PriceError(f"{where} must be a number: 0, or from 1e-9 to 1000 (USD), got {value!r}")
    return float(value)


def _read_toml(path: Path) -> dict:
    try:
        if not path.is_file():
            raise PriceError(f"price file {path} does not exist or is not a regular file")
        if path.stat().st_size > MAX_PRICE_FILE_BYTES:
            raise PriceError(f"price file {path} is larger than {MAX_PRICE_FILE_BYTES} bytes")
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PriceError(f"price file {path} is not readable TOML: {exc}") from None


def load_price_file(path: Path) -> dict[str, dict[str, float]]:
    """``{provider: {operation: usd}}`` from a TOML file's ``[prices]`` table.

    ``provider = X`` is the price of its ``query`` operation; ``[prices.provider]``
    tables name operations.
    """
    table = _read_toml(path).get("prices")
    if not isinstance(table, dict):
        raise PriceError(f"price file {path} has no [prices] table")
    out: dict[str, dict[str, float]] = {}
    for provider, value in table.items():
        if isinstance(value, dict):
            out[provider] = {
                op: _check_price(usd, f"price file {path}: prices.{provider}.{op}")
                for op, usd in value.items()
            }
        else:
            out[provider] = {"query": _check_price(value, f"price file {path}: prices.{provider}")}
    return out


def price(
    provider: str,
    operation: str = "query",
    *,
    kind: ProviderKind = ProviderKind.CLASSIFIER,
    override: float | None = None,
    prices_file: Path | None = None,
) -> float:
    """USD per ``operation`` on ``provider``: ``override``, else the price file, else the
    provider's registry row."""
    if override is not None:
        return _check_price(override, "--price-per-query")
    path = prices_file if prices_file is not None else default_prices_file()
    if path is not None:
        table = load_price_file(path)
        if operation in table.get(provider, {}):
            return table[provider][operation]
    try:
        row = registry.get(provider, kind).price(operation)
    except ValueError:
        row = None
    if row is None:
        raise PriceError(
            f"no price known for {operation} on provider {provider!r}: pass "
            "--price-per-query or add it to a prices file"
        )
    return row.usd


def price_per_query(
    provider: str, *, override: float | None = None, prices_file: Path | None = None
) -> float:
    """USD per classification query on ``provider`` (see ``price``)."""
    return price(provider, "query", override=override, prices_file=prices_file)
