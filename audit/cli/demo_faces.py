"""CLI command: ``isotope demo faces`` (a face-collection audit on this machine, offline)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from audit.cli.common import JsonOption, stderr
from audit.cli.guard import guarded

if TYPE_CHECKING:
    from audit.demo.faces import FaceDemoResult


def _table(result: FaceDemoResult) -> Table:
    table = Table(title=f"isotope demo faces: α = {result.alpha}, {result.marked_files} marked")
    table.add_column("collection")
    table.add_column("holds")
    table.add_column("verdict")
    table.add_column("p-value", justify="right")
    table.add_column("searches", justify="right")
    for side in result.sides:
        outcome = side.outcome
        p = outcome.result.p_value
        table.add_row(
            side.name,
            side.holds,
            outcome.result.verdict.value.replace("_", " "),
            "n/a" if p is None else f"{p:.2g}",
            str(outcome.counts.billed),
        )
    return table


def demo_faces_command(
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Empty folder for faces, store, engine and reports (default: temp)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Mark your photos, let a local face service enroll them or not, audit both collections."""
    from audit.demo.faces import run_face_demo

    work = workdir or Path(tempfile.mkdtemp(prefix="isotope-demo-faces-"))
    log = None if as_json else (lambda line: stderr.print(f"• {line}", highlight=False))
    with guarded(as_json):
        result = run_face_demo(work, log=log)
    if as_json:
        typer.echo(json.dumps(result.to_json(), default=str))
        return
    Console().print(_table(result))
    typer.echo(f"finished in {result.seconds:.0f} s; everything is in {work}")


def register(group: typer.Typer) -> None:
    """Add ``faces`` to the ``demo`` group."""
    group.command("faces")(demo_faces_command)
