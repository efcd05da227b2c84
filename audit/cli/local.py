"""CLI commands: ``isotope train`` and ``isotope serve`` (the local torch provider).

Thin: parse, call ``providers.local``, print. Errors go through the shared guard.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from audit.cli.common import JsonOption, stderr
from audit.cli.guard import UsageError, guarded


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("train")(train_command)
    app.command("serve")(serve_command)


@contextmanager
def epoch_bar(enabled: bool) -> Iterator[Callable[[str, Any], None] | None]:
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
    with Progress(*columns, console=stderr, transient=False) as bar:
        tasks: dict[str, TaskID] = {}

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
    epochs: int = typer.Option(
        20, "--epochs", min=1, max=10_000, help="Passes over the training images."
    ),
    device: str = typer.Option("auto", "--device", help="auto (GPU when present), cpu, cuda."),
    seed: int = typer.Option(
        0, "--seed", min=0, max=2**63 - 1, help="Seed for the split, init and augmentation."
    ),
    input_size: int | None = typer.Option(
        None,
        "--input-size",
        min=8,
        max=1024,
        help="Image side the model sees (default: data's, ≤ 64).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Train an image classifier as a model trainer would (flips, crops, rotations)."""
    from providers.local.trainer import train

    with guarded(as_json), epoch_bar(not as_json) as bar:
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
        1_500_000,
        "--max-body-bytes",
        min=1024,
        max=64_000_000,
        help="Request size limit (413 above it).",
    ),
) -> None:
    """Serve a model over the Vertex AI REST predict protocol until SIGINT/SIGTERM."""
    from providers.local.bind import check_host, describe_bind, is_loopback
    from providers.local.server import serve

    with guarded():
        check_host(host)  # a blank host would bind every interface
        api_key = None
        if api_key_env:
            api_key = os.environ.get(api_key_env)
            if not api_key:
                raise UsageError(
                    f"--api-key-env {api_key_env}: that environment variable is empty or unset"
                )
        bound = describe_bind(host, port)
        if not is_loopback(host) and api_key is None:
            stderr.print(
                f"warning: serving on {bound} without an API key: anyone who can reach "
                "it can query the model (use --api-key-env)",
                highlight=False,
                markup=False,
            )
        path = f"/v1/projects/PROJECT/locations/LOCATION/endpoints/{endpoint}:predict"
        stderr.print(
            f"serving {model} on {bound}, predict at {path} (Ctrl-C to stop)",
            highlight=False,
            markup=False,
        )
        serve(
            model,
            host=host,
            port=port,
            endpoint_id=endpoint,
            api_key=api_key,
            device=device,
            max_body_bytes=max_body_bytes,
        )
