"""CLI command: ``isotope demo`` (the whole story on this machine, no network)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from audit.cli.common import JsonOption, stderr
from audit.cli.guard import guarded
from audit.cli.local import epoch_bar

demo_app = typer.Typer(no_args_is_help=False)


def register(app: typer.Typer) -> None:
    """Add ``demo`` (the classification demo when run alone) and ``demo faces``."""
    from audit.cli import demo_faces

    demo_app.callback(invoke_without_command=True)(demo_command)
    demo_faces.register(demo_app)
    app.add_typer(demo_app, name="demo")


def _verdict_table(result) -> Table:
    table = Table(
        title=f"isotope demo: label {result.label!r}, α = {result.alpha}, p = {result.fraction}, "
        f"{result.decoys} decoy surrogates"
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
    ctx: typer.Context,
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
    decoys: int = typer.Option(
        3, "--decoys", min=0, max=20, help="Decoy surrogates the audits use (0: none)."
    ),
    device: str = typer.Option("auto", "--device", help="auto (GPU when present), cpu, cuda."),
    as_json: bool = JsonOption,
) -> None:
    """Mark images, train a model with and one without them, serve both, audit both
    (sharpened by decoy surrogates, as `isotope surrogate train` makes them).

    `isotope demo faces` runs the face-collection demo instead.
    """
    if ctx.invoked_subcommand is not None:
        return
    from audit.demo.run import DemoConfig, gpu_note, run_demo

    work = workdir or Path(tempfile.mkdtemp(prefix="isotope-demo-"))
    log = None if as_json else (lambda line: stderr.print(f"• {line}", highlight=False))
    config = DemoConfig(label=label, epochs=epochs, decoys=decoys, device=device)
    with guarded(as_json), epoch_bar(not as_json) as bar:
        result = run_demo(work, data=data, config=config, log=log, on_epoch=bar)
    note = gpu_note(result)
    if as_json:
        typer.echo(json.dumps({**result.to_json(), "note": note}, default=str))
        return
    Console().print(_verdict_table(result))
    typer.echo(f"finished in {result.seconds:.0f} s on {result.device}; everything is in {work}")
    if note:
        stderr.print(f"note: {note}", highlight=False)
