"""CLI commands: ``isotope train``, ``isotope serve`` and ``isotope demo``.

Thin: parse, call ``providers.local`` / ``audit.demo.run``, print. Errors are one line on
stderr with exit status 2 (bad input) or 1 (the demo's audit failed to reach a model).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

EXIT_PROVIDER = 1
EXIT_BAD_INPUT = 2
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

_err = Console(stderr=True, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("train")(train_command)
    app.command("serve")(serve_command)
    app.command("demo")(demo_command)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    _err.print(f"[bold red]error:[/] {message.replace('[', chr(92) + '[')}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _guarded() -> Iterator[None]:
    """Expected failures become one line on stderr, never a traceback."""
    from marks.errors import MarkEngineError
    from providers.errors import ProviderError

    try:
        yield
    except typer.Exit:
        raise
    except ProviderError as exc:
        _fail(str(exc), EXIT_PROVIDER)
    except (ValueError, OSError, MarkEngineError) as exc:
        _fail(str(exc))


@contextmanager
def _epoch_bar(enabled: bool) -> Iterator:
    """A rich bar per model: epoch n/N, loss, train and held-out accuracy."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_err, transient=False) as bar:
        tasks: dict[str, int] = {}

        def update(name: str, stats) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(f"training {name}", total=stats.epochs, stats="")
            val = "-" if stats.val_acc is None else f"{stats.val_acc:.3f}"
            bar.update(
                tasks[name],
                completed=stats.epoch,
                stats=f"loss {stats.loss:.3f}  acc {stats.train_acc:.3f}  held-out {val}",
            )

        yield update


def train_command(
    data_dir: Path = typer.Argument(..., help="Folder with one subfolder of images per label."),
    out: Path = typer.Option(..., "--out", "-o", help="Model file to write."),
    arch: str = typer.Option("small", "--arch", help="small (fast CNN) or resnet18."),
    epochs: int = typer.Option(20, "--epochs", min=1, help="Passes over the training images."),
    device: str = typer.Option("auto", "--device", help="auto (GPU when present), cpu, cuda."),
    seed: int = typer.Option(0, "--seed", help="Seed for the split, init and augmentation."),
    input_size: int | None = typer.Option(
        None, "--input-size", min=8, help="Image side the model sees (default: data's, ≤ 64)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Train an image classifier as a model trainer would (flips, crops, rotations)."""
    from providers.local.trainer import train

    with _guarded(), _epoch_bar(not as_json) as bar:
        result = train(
            data_dir,
            out,
            arch=arch,
            epochs=epochs,
            device=device,
            seed=seed,
            input_size=input_size,
            on_epoch=(lambda stats: bar("model", stats)) if bar else None,
        )
    if as_json:
        typer.echo(json.dumps(result.to_json()))
        return
    val = "n/a" if result.val_acc is None else f"{result.val_acc:.3f}"
    typer.echo(
        f"model: {result.model_path}\n"
        f"labels: {len(result.labels)}; images: {result.n_train} train, {result.n_val} held out\n"
        f"held-out accuracy: {val}; {result.epochs} epochs on {result.device} "
        f"in {result.seconds:.0f} s"
    )


def serve_command(
    model: Path = typer.Argument(..., help="Model file written by `isotope train`."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback default)."),
    port: int = typer.Option(8080, "--port", min=0, max=65535),
    endpoint: str = typer.Option("local", "--endpoint", help="Endpoint id in the URL."),
    api_key_env: str | None = typer.Option(
        None, "--api-key-env", help="Environment variable holding the API key clients must send."
    ),
    device: str = typer.Option("auto", "--device", help="auto (GPU when present), cpu, cuda."),
    max_body_bytes: int = typer.Option(
        1_500_000, "--max-body-bytes", min=1024, help="Request size limit (413 above it)."
    ),
) -> None:
    """Serve a model over the Vertex AI REST predict protocol until SIGINT/SIGTERM."""
    from providers.local.server import serve

    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            _fail(f"--api-key-env {api_key_env}: that environment variable is empty or unset")
    if host not in LOOPBACK and api_key is None:
        _err.print(
            f"[yellow]warning:[/] serving on {host} without an API key: anyone who can reach "
            "this address can query the model (use --api-key-env)"
        )
    base = f"http://{host}:{port}/v1/projects/PROJECT/locations/LOCATION/endpoints/{endpoint}"
    _err.print(f"serving {model} at {base}:predict (Ctrl-C to stop)", highlight=False)
    with _guarded():
        serve(
            model,
            host=host,
            port=port,
            endpoint_id=endpoint,
            api_key=api_key,
            device=device,
            max_body_bytes=max_body_bytes,
        )


def _verdict_table(result) -> Table:
    table = Table(
        title=f"isotope demo: label {result.label!r}, α = {result.alpha}, p = {result.fraction}"
    )
    table.add_column("")
    for side in result.sides:
        table.add_column(f"{side.name} model", justify="right")
    rows = {
        "trained with isotopes": ["yes", "no"],
        "held-out accuracy": [
            "n/a" if s.training.val_acc is None else f"{s.training.val_acc:.3f}"
            for s in result.sides
        ],
        "verdict": [s.outcome.result.verdict.value.replace("_", " ") for s in result.sides],
        "p-value": [
            "n/a" if s.outcome.result.p_value is None else f"{s.outcome.result.p_value:.2g}"
            for s in result.sides
        ],
        "level": [f"{s.outcome.result.level}" for s in result.sides],
        "queries": [str(s.outcome.counts.billed) for s in result.sides],
        "report (in workdir)": [
            str(s.outcome.report.folder.relative_to(result.workdir)) if s.outcome.report else "-"
            for s in result.sides
        ],
    }
    for name, values in rows.items():
        table.add_row(name, *values)
    return table


def demo_command(
    data: Path | None = typer.Option(
        None, "--data", help="Use a real folder (one subfolder per label) instead of generated."
    ),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Empty folder for data, models and reports (default: a new temp)."
    ),
    label: str | None = typer.Option(
        None, "--label", help="The label to mark (default: triangle)."
    ),
    epochs: int = typer.Option(30, "--epochs", min=1, help="Training epochs per model."),
    device: str = typer.Option("auto", "--device", help="auto (GPU when present), cpu, cuda."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Mark images, train a model with and one without them, serve both, audit both."""
    from audit.demo.run import DemoConfig, gpu_note, run_demo

    work = workdir or Path(tempfile.mkdtemp(prefix="isotope-demo-"))
    log = None if as_json else (lambda line: _err.print(f"• {line}", highlight=False))
    config = DemoConfig(label=label, epochs=epochs, device=device)
    with _guarded(), _epoch_bar(not as_json) as bar:
        result = run_demo(work, data=data, config=config, log=log, on_epoch=bar)
    note = gpu_note(result)
    if as_json:
        typer.echo(json.dumps({**result.to_json(), "note": note}, default=str))
        return
    Console().print(_verdict_table(result))
    typer.echo(f"finished in {result.seconds:.0f} s on {result.device}; everything is in {work}")
    if note:
        _err.print(f"note: {note}", highlight=False)
