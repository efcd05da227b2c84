"""CLI commands: ``isotope marks new|list|show`` and ``isotope mark``."""

from __future__ import annotations

import secrets
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from audit.cli.common import (
    JsonOption,
    StoreOption,
    ignore_bomb_warnings,
    print_json,
    progress_bar,
    stderr,
)
from audit.cli.guard import guarded
from audit.exit_codes import ExitCode
from marks.kinds import make_mark
from marks.mark import MarkKind
from marks.marking import mark_folder
from marks.store import MarkStore

marks_app = typer.Typer(help="Create and inspect your secret marks.", no_args_is_help=True)


def public_record(store: MarkStore, name: str) -> dict:
    """A mark's record without secrets (no commitment salt, no file paths)."""
    record = store.info(name)
    commitment = dict(record.get("commitment", {}))
    commitment.pop("salt", None)
    return {
        "name": record["name"],
        "kind": record["kind"],
        "seed": record.get("seed"),
        "params": record.get("params", {}),
        "size": [record.get("width"), record.get("height")],
        "fingerprint": record["fingerprint"],
        "created": record.get("created"),
        "commitment": commitment,
        "posted_alpha": store.posted_alpha(name),
    }


@marks_app.command("new")
def marks_new(
    name: str = typer.Argument(..., help="Name of the new mark."),
    kind: MarkKind = typer.Option(MarkKind.PROCEDURAL, "--kind", help="What kind of mark."),
    image: Path | None = typer.Option(
        None, "--image", help="Photo for blend/overlay marks.", dir_okay=False
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed (default: random, recorded)."),
    force: bool = typer.Option(False, "--force", help="Replace a mark or skip the L∞ check."),
    store_dir: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a secret mark and keep it in the private store."""
    with guarded(as_json):
        store = MarkStore.open(store_dir)
        seed = secrets.randbelow(2**31) if seed is None else seed
        record = store.add(make_mark(name, kind, seed=seed, image=image), force=force)
        shown = public_record(store, record["name"])
    if as_json:
        print_json(shown)
        return
    stderr.print(f"created mark [bold]{name}[/] ({kind.value}), fingerprint {shown['fingerprint']}")
    stderr.print(
        f"commitment you may publish now: {shown['commitment'].get('value')}", highlight=False
    )


@marks_app.command("list")
def marks_list(store_dir: Path | None = StoreOption, as_json: bool = JsonOption) -> None:
    """List the marks held in the store."""
    with guarded(as_json):
        store = MarkStore.open(store_dir)
        rows = [public_record(store, name) for name in store.names()]
    if as_json:
        print_json({"marks": rows})
        return
    if not rows:
        stderr.print("no marks yet: create one with `isotope marks new NAME`")
        return
    table = Table("name", "kind", "fingerprint", "posted α", "created")
    for row in rows:
        alpha = "-" if row["posted_alpha"] is None else f"{row['posted_alpha']:g}"
        table.add_row(row["name"], row["kind"], row["fingerprint"][:16], alpha, row["created"])
    Console().print(table)


@marks_app.command("show")
def marks_show(
    name: str = typer.Argument(..., help="Mark name."),
    reveal_salt: bool = typer.Option(
        False, "--reveal-salt", help="Also print the commitment's secret salt (to prove it)."
    ),
    store_dir: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Show a mark's kind, seed, fingerprint and public commitment (never its pixels)."""
    with guarded(as_json):
        store = MarkStore.open(store_dir)
        shown = public_record(store, name)
        if reveal_salt:
            shown["commitment"]["salt"] = store.info(name)["commitment"]["salt"]
    if as_json:
        print_json(shown)
        return
    for key, value in shown.items():
        if key == "commitment":
            salt = f"; salt {value['salt']}" if "salt" in value else ""
            value = f"{value.get('value')} ({value.get('scheme')}{salt})"
        elif key == "posted_alpha" and value is None:
            value = "not posted yet"
        typer.echo(f"{key}: {value}")


def mark_command(
    src: Path = typer.Argument(..., help="Folder of your photos (never modified)."),
    mark_name: str = typer.Option(..., "--mark", help="Name of a mark in the store."),
    out: Path = typer.Option(..., "--out", help="New folder for the images to post."),
    alpha: float = typer.Option(0.4, "--alpha", help="Blend strength α in (0, 1]."),
    fraction: float = typer.Option(0.1, "--fraction", help="Share p of images to mark, (0, 1]."),
    seed: int | None = typer.Option(None, "--seed", help="Selection seed (default random)."),
    keep_metadata: bool = typer.Option(
        False, "--keep-metadata", help="Keep EXIF/XMP in marked copies (default: strip)."
    ),
    reencode_all: bool = typer.Option(
        False,
        "--reencode-all",
        help="Re-encode unmarked images like marked ones (default: copy them unchanged), "
        "so encoding and metadata do not single out the marked files.",
    ),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Threads (default: CPUs)."),
    store_dir: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Blend a mark into a share of the photos in SRC and write all of them to --out."""
    ignore_bomb_warnings()
    with guarded(as_json):
        store = MarkStore.open(store_dir)
        mark = store.get(mark_name)
        with progress_bar("marking") as update:
            result = mark_folder(
                src,
                out,
                mark,
                alpha=alpha,
                fraction=fraction,
                seed=seed,
                store=store,
                keep_metadata=keep_metadata,
                reencode_all=reencode_all,
                progress=update,
                workers=workers,
            )
    if as_json:
        print_json(result.to_json())
    else:
        stderr.print(
            f"marked {result.marked}, copied {result.copied}, failed {len(result.failed)} "
            f"-> {result.out}",
            highlight=False,
        )
        stderr.print(f"manifest (keep it private): {result.manifest}", highlight=False)
        if result.duplicates:
            stderr.print(f"{len(result.duplicates)} groups of identical files (treated alike)")
    for failure in result.failed:
        stderr.print(f"failed: {failure.path}: {failure.error}", highlight=False, markup=False)
    if result.failed:
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def register(app: typer.Typer) -> None:
    """Add ``marks`` (group) and ``mark`` to the root app."""
    app.add_typer(marks_app, name="marks")
    app.command("mark")(mark_command)
