"""What the ``isotope`` commands share: options, JSON output, progress bars, providers.

Typer declares options per command; each shared one is defined here once.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from marks.store import MarkStore
from providers import registry
from providers.rate_limit import RateLimiter
from providers.spec import BuildContext, ProviderKind

stderr = Console(stderr=True, soft_wrap=True)

DEFAULT_WORKSPACE = Path("isotope-workspace")

StoreOption = typer.Option(
    None,
    "--store",
    help="Private store folder (default: $ISOTOPE_HOME, else the user data folder).",
    file_okay=False,
)
JsonOption = typer.Option(False, "--json", help="Print one JSON object on stdout.")
WorkspaceOption = typer.Option(
    DEFAULT_WORKSPACE, "--workspace", help="Folder of the query ledger and reports."
)
ReportOption = typer.Option(
    None, "--report", help="Report folder (default: WORKSPACE/reports/<time>-<method>)."
)
ProviderOptionOption = typer.Option(
    None,
    "--provider-option",
    help="KEY=VALUE setting of the provider (repeat); `isotope providers` lists them.",
)
EndpointUrlOption = typer.Option(
    None,
    "--endpoint-url",
    "--api-endpoint",
    help="Another API endpoint of the service (a private, regional or local server).",
)
RegionOption = typer.Option(None, "--region", help="The service's region or location.")


def print_json(obj: object) -> None:
    """Print ``obj`` as the one JSON object on stdout."""
    typer.echo(json.dumps(obj, indent=2, default=str))


def ignore_bomb_warnings() -> None:
    """Pillow warns on large images; the engine refuses them itself with a clear error."""
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr, driven by a ``(done, total)`` callback."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextmanager
def query_progress(total: int, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A bar counting answered queries on stderr (``None`` when disabled)."""
    if not enabled:
        yield None
        return
    columns = (TextColumn("querying"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task("queries", total=total)
        yield lambda n: bar.advance(task, n)


def build_provider(
    name: str,
    target: str,
    *,
    kind: ProviderKind = ProviderKind.CLASSIFIER,
    options: list[str] | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    top_k: int | None = None,
    store: MarkStore | None = None,
) -> tuple[object, RateLimiter]:
    """The adapter ``--provider``/``--target`` and the provider options describe, and the
    client-side rate limiter to call it through."""
    ctx = BuildContext(
        target=target,
        options=registry.parse_options(options or []),
        endpoint_url=endpoint_url,
        region=region,
        top_k=top_k,
        resolve_mark=(lambda mark: store.get(mark).fingerprint) if store is not None else None,
    )
    return registry.build(name, ctx, kind), registry.rate_limiter(
        registry.get(name, kind), ctx.options
    )
