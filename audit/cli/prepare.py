"""CLI commands: ``isotope prepare folder|vertex|rekognition`` (upload preparation)."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from audit.cli.common import (
    JsonOption,
    StoreOption,
    ignore_bomb_warnings,
    print_json,
    progress_bar,
    stderr,
)
from audit.cli.guard import UsageError, guarded
from audit.exit_codes import ExitCode
from marks.prepare_folder import prepare_folder
from marks.prepare_rekognition import prepare_rekognition
from marks.prepare_vertex import prepare_vertex
from marks.store import MarkStore
from marks.upload_files import PrepareResult

prepare_app = typer.Typer(
    help="Prepare marked images for upload: plain folders, Vertex AI, Rekognition.",
    no_args_is_help=True,
)

LabelOption = typer.Option(
    [], "--label", help="LABEL=DIR (repeat): the images of one label.", show_default=False
)
TreeOption = typer.Option(
    None, "--from-tree", help="A folder whose subfolders are the labels.", file_okay=False
)


def parse_pairs(pairs: list[str], what: str) -> dict[str, Path]:
    """Parse ``NAME=DIR`` arguments; ``UsageError`` on a malformed or repeated one."""
    parsed: dict[str, Path] = {}
    for pair in pairs:
        name, sep, folder = pair.partition("=")
        if not sep or not name or not folder:
            raise UsageError(f"{what} {pair!r} must look like NAME=DIR")
        if name in parsed:
            raise UsageError(f"{what} {name!r} is given twice")
        parsed[name] = Path(folder)
    return parsed


def label_sources(labels: list[str], tree: Path | None) -> dict[str, Path]:
    """Labels from ``--label`` pairs plus the subfolders of ``--from-tree``."""
    sources = parse_pairs(labels, "--label")
    if tree is not None:
        if not tree.is_dir():
            raise UsageError(f"--from-tree {tree} is not a folder")
        for sub in sorted(p for p in tree.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if sub.name in sources:
                raise UsageError(f"label {sub.name!r} is given by --label and by --from-tree")
            sources[sub.name] = sub
    if not sources:
        raise UsageError("give the labels' folders with --label LABEL=DIR or --from-tree DIR")
    return sources


def finish(result: PrepareResult, as_json: bool, what: str) -> None:
    """Print the outcome (JSON or a summary), list failures, exit 2 if any."""
    if as_json:
        print_json(result.to_json())
    else:
        stderr.print(f"{what}: wrote {result.written} images to {result.out}", highlight=False)
        for role, path in result.outputs.items():
            stderr.print(f"  {role}: {path}", highlight=False, markup=False)
        stderr.print(f"manifest (keep it private): {result.manifest}", highlight=False)
    for failure in result.failed:
        stderr.print(f"failed: {failure.path}: {failure.error}", highlight=False, markup=False)
    if result.failed:
        raise typer.Exit(int(ExitCode.BAD_INPUT))


@prepare_app.command("folder")
def folder_command(
    out: Path = typer.Argument(..., help="New folder: OUT/LABEL/* is written."),
    labels: list[str] = LabelOption,
    tree: Path | None = TreeOption,
    store_dir: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """One subfolder per label, for local training."""
    ignore_bomb_warnings()
    with guarded(as_json):
        sources = label_sources(labels, tree)
        store = MarkStore.open(store_dir)
        with progress_bar("copying") as update:
            result = prepare_folder(sources, out, store=store, progress=update)
    finish(result, as_json, "prepare folder")


def _parse_split(split: str | None) -> tuple[float, float, float] | None:
    if split is None:
        return None
    problem = UsageError(f"--split {split!r} must be three numbers ≥ 0 like 0.8,0.1,0.1")
    try:
        parts = tuple(float(p) for p in split.split(","))
    except ValueError:
        raise problem from None
    if len(parts) != 3 or not all(math.isfinite(p) and p >= 0 for p in parts):
        raise problem
    return parts[0], parts[1], parts[2]


@prepare_app.command("vertex")
def vertex_command(
    out: Path = typer.Argument(..., help="New folder for images/ and the import files."),
    gcs_prefix: str = typer.Option(..., "--gcs-prefix", help="gs://bucket/path for the images."),
    labels: list[str] = LabelOption,
    tree: Path | None = TreeOption,
    split: str | None = typer.Option(
        None, "--split", help="training,validation,test shares, e.g. 0.8,0.1,0.1 (ML_USE)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for the ML_USE split."),
    store_dir: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Vertex AI import files (CSV and JSONL) with gs:// URIs, and the images to upload."""
    ignore_bomb_warnings()
    with guarded(as_json):
        sources = label_sources(labels, tree)
        shares = _parse_split(split)
        store = MarkStore.open(store_dir)
        with progress_bar("preparing") as update:
            result = prepare_vertex(
                sources,
                out,
                gcs_prefix=gcs_prefix,
                store=store,
                split=shares,
                seed=seed,
                progress=update,
            )
    finish(result, as_json, "prepare vertex")


@prepare_app.command("rekognition")
def rekognition_command(
    out: Path = typer.Argument(..., help="New folder for enroll/, probe/ and their lists."),
    identities: list[str] = typer.Option(
        [], "--identity", help="NAME=DIR (repeat): one person's face photos."
    ),
    mark_name: str = typer.Option(..., "--mark", help="The mark t for set1 and set3."),
    set2: list[str] = typer.Option(
        [], "--set2-mark", help="Five other marks, one per set2 image (repeat 5 times)."
    ),
    alpha: float = typer.Option(0.4, "--alpha", help="Blend strength α in (0, 1]."),
    probes: int | None = typer.Option(None, "--probes", help="Set3 images per identity."),
    seed: int = typer.Option(0, "--seed", help="Seed for the image order and ids."),
    store_dir: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """An enrollment plan per identity: set1 (same mark), set2 (5 marks), set3 probes."""
    ignore_bomb_warnings()
    with guarded(as_json):
        people = parse_pairs(identities, "--identity")
        store = MarkStore.open(store_dir)
        with progress_bar("identities") as update:
            result = prepare_rekognition(
                people,
                out,
                mark=store.get(mark_name),
                set2_marks=[store.get(name) for name in set2],
                store=store,
                alpha=alpha,
                probes=probes,
                seed=seed,
                progress=update,
            )
    finish(result, as_json, "prepare rekognition")


def register(app: typer.Typer) -> None:
    """Add the ``prepare`` group to the root app."""
    app.add_typer(prepare_app, name="prepare")
