"""CLI command: ``isotope providers`` (what each provider is, costs and understands)."""

from __future__ import annotations

import importlib.util

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from audit.cli.common import JsonOption, print_json
from audit.cli.guard import guarded
from providers import registry
from providers.registry import COMMON_OPTIONS
from providers.spec import ProviderSpec

# The module whose presence shows that a pip extra is installed.
_EXTRA_PROBES = {
    "vertex": "google.cloud.aiplatform",
    "aws": "boto3",
    "azure": "azure.ai.vision.imageanalysis",
}


def _installed(extra: str | None) -> bool:
    if extra is None:
        return True
    probe = _EXTRA_PROBES.get(extra)
    try:
        return probe is None or importlib.util.find_spec(probe) is not None
    except ModuleNotFoundError:
        return False


def _describe(spec: ProviderSpec) -> dict:
    return {
        "name": spec.name,
        "kind": spec.kind.value,
        "summary": spec.summary,
        "extra": spec.extra,
        "installed": _installed(spec.extra),
        "target": spec.target_help,
        "prices_usd": {row.operation: row.usd for row in spec.prices},
        "rate_per_s": spec.rate.per_s,
        "options": {**COMMON_OPTIONS, **spec.options},
    }


def providers_command(as_json: bool = JsonOption) -> None:
    """List every provider: what it is, its --target, prices, rate limit and options."""
    with guarded(as_json):
        rows = [_describe(spec) for spec in registry.SPECS]
    if as_json:
        print_json({"providers": rows})
        return
    table = Table("provider", "kind", "what", "prices (USD)", "rate/s", "extra")
    for row in rows:
        prices = ", ".join(f"{op} {usd:g}" for op, usd in row["prices_usd"].items())
        extra = row["extra"] or "-"
        if row["extra"] and not row["installed"]:
            extra += f" (pip install 'isotope-audit[{row['extra']}]')"
        rate = "-" if row["rate_per_s"] is None else f"{row['rate_per_s']:g}"
        table.add_row(row["name"], row["kind"], escape(row["summary"]), prices, rate, escape(extra))
    console = Console()
    console.print(table)
    for row in rows:
        options = "; ".join(f"{key}: {text}" for key, text in row["options"].items())
        # Help texts hold brackets ([a-zA-Z0-9_.-]) that rich would read as markup.
        console.print(
            f"[bold]{row['name']}[/] ({row['kind']}) --target: {escape(row['target'])}\n"
            f"  --provider-option: {escape(options)}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add this module's command to the root app."""
    app.command("providers")(providers_command)
