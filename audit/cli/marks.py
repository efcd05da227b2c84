"""CLI commands: ``isotope marks new|list|show`` and ``isotope mark``."""

from __future__ import annotations

import sys
from enum import StrEnum
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
from audit.cli.guard import UsageError, guarded
from audit.cli.mark_view import public_record, show_lines
from audit.exit_codes import ExitCode
from marks.blend import check_alpha
from marks.guidance import weak_setting_warnings
from marks.kinds import make_mark
from marks.mark import MarkKind
from marks.marking import check_fraction, mark_folder
from marks.pool import Skipped, build_pool, draw
from marks.proof import check_proof, write_proof
from marks.purposes import DEFAULT_ALPHA, GENERAL, PURPOSES
from marks.secret_seed import new_seed
from marks.store import MarkStore

marks_app = typer.Typer(help="Create and inspect your secret marks.", no_args_is_help=True)

PurposeName = StrEnum(  # type: ignore[misc]
    "PurposeName", {name: name for name in PURPOSES}
)


@marks_app.command("new")
def marks_new(
    name: str = typer.Argument(..., help="Name of the new mark."),
    kind: MarkKind | None = typer.Option(
        None,
        "--kind",
        help="What kind of mark (default: the purpose's: dead_leaves, procedural for faces).",
    ),
    image: Path | None = typer.Option(
        None, "--image", help="Photo for blend/overlay marks.", dir_okay=False
    ),
    pool: Path | None = typer.Option(
        None,
        "--pool",
        help="Folder of photos (100+): the mark is drawn from them at random and the rest "
        "become its external marks, for exact p-values (blend/overlay).",
        file_okay=False,
    ),
    purpose: PurposeName = typer.Option(
        GENERAL.name, "--for", help="What the mark is for: sets its kind and α."
    ),
    seed: int | None = typer.Option(
        None, "--seed", hidden=True, help="Seed (tests only: a chosen seed can be guessed)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace a mark or skip the L∞ check."),
    store_dir: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a secret mark and keep it in the private store."""
    warnings: list[str] = []
    skipped: list[Skipped] = []
    with guarded(as_json):
        chosen = PURPOSES[str(purpose)]
        kind = kind or (MarkKind.BLEND if pool is not None else chosen.kind)
        if pool is not None and image is not None:
            raise UsageError("--pool draws the photo; leave out --image")
        if pool is not None and seed is not None:
            raise UsageError("--pool draws the mark at random; leave out --seed")
        store = MarkStore.open(store_dir)
        drawn = None
        if pool is not None and name in store and not force:  # before reading the pool
            raise UsageError(
                f"a mark named {name!r} is already held; pick another name (or --force)"
            )
        if pool is not None:
            held = [store.get(other) for other in store.names() if other != name]
            photos = build_pool(pool, kind, avoid=held)
            skipped = photos.skipped
            if photos.held_copies:
                warnings.append(
                    f"{photos.held_copies} photo(s) of the pool were left out as copies of "
                    "marks you already hold (not named: that would say which photo they are)"
                )
            warning = photos.warning()
            if warning:
                warnings.append(warning)
            drawn = draw(photos, name)
            mark = drawn.mark
        else:
            mark = make_mark(name, kind, seed=new_seed() if seed is None else seed, image=image)
        store.add(mark, force=force, purpose=chosen.name, default_alpha=chosen.alpha, pool=drawn)
        shown = public_record(store, name)
        shown["warnings"] += warnings
    if as_json:
        shown["skipped"] = [{"path": str(s.path), "reason": s.reason} for s in skipped]
        print_json(shown)
        return
    for item in skipped:
        stderr.print(f"left out of the pool: {item.path}: {item.reason}", markup=False)
    stderr.print(
        f"created mark [bold]{name}[/] ({kind.value}, for {chosen.name}, "
        f"α {chosen.alpha:g}) in the private store {store.root}",
        highlight=False,
    )
    if drawn is not None:
        stderr.print(
            f"drawn at random from {drawn.size} photos; the other {drawn.size - 1} are kept "
            "as its external marks",
            highlight=False,
        )
    for warning in shown["warnings"]:
        stderr.print(f"warning: {warning}", highlight=False, markup=False)
    if not shown["externals"]["exact"]:
        reason = shown["externals"]["reason"]
        stderr.print(f"note: its audits are not exact: {reason}", highlight=False, markup=False)
    stderr.print(
        "publish this (a salted commitment: it reveals nothing about the mark and later "
        "proves you held it today):",
        highlight=False,
    )
    typer.echo(shown["commitment"]["value"])


@marks_app.command("list")
def marks_list(store_dir: Path | None = StoreOption, as_json: bool = JsonOption) -> None:
    """List the marks held in the store (never their seeds or fingerprints).

    A damaged mark is listed with its problem (naming its file) and the others as
    usual; the exit status is then 2.
    """
    with guarded(as_json):
        store = MarkStore.open(store_dir)
        rows: list[dict] = [
            {"name": held.name, "problem": held.problem}
            if held.problem is not None
            else public_record(store, held.name)
            for held in store.listing()
        ]
    damaged = [row for row in rows if "problem" in row]
    if as_json:
        print_json({"marks": rows})
        if damaged:
            raise typer.Exit(int(ExitCode.BAD_INPUT))
        return
    if not rows:
        stderr.print("no marks yet: create one with `isotope marks new NAME`")
        return
    table = Table("name", "kind", "for", "α", "posted α", "p-values", "created")
    for row in rows:
        if "problem" in row:
            table.add_row(row["name"] + " (damaged)", *["-"] * 6)
            continue
        alpha = "-" if row["posted_alpha"] is None else f"{row['posted_alpha']:g}"
        exact = "exact" if row["externals"]["exact"] else "not exact"
        table.add_row(
            row["name"] + (" (weak!)" if row["weak_seed"] else ""),
            row["kind"],
            row["purpose"],
            f"{row['default_alpha']:g}",
            alpha,
            exact,
            (row["created"] or "")[:10],
        )
    Console().print(table)
    for row in rows:
        for warning in row.get("warnings", []):
            stderr.print(f"warning: {warning}", highlight=False, markup=False)
    for row in damaged:
        stderr.print(f"error: {row['problem']}", highlight=False, markup=False)
    if damaged:
        raise typer.Exit(int(ExitCode.BAD_INPUT))


@marks_app.command("show")
def marks_show(
    name: str = typer.Argument(..., help="Mark name."),
    reveal_salt: bool = typer.Option(
        False, "--reveal-salt", help="Also print the commitment's secret salt (to prove it)."
    ),
    store_dir: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Show a mark's kind, α, external marks and public commitment (never what rebuilds it)."""
    with guarded(as_json):
        store = MarkStore.open(store_dir)
        shown = public_record(store, name)
        if reveal_salt:
            shown["commitment"]["salt"] = store.info(name)["commitment"]["salt"]
    if as_json:
        print_json(shown)
        return
    for line in show_lines(shown):
        typer.echo(line)


@marks_app.command("reveal")
def marks_reveal(
    name: str = typer.Argument(..., help="Mark name."),
    out: Path = typer.Option(..., "--out", help="New folder for mark.png and proof.json."),
    yes: bool = typer.Option(False, "--yes", help="Reveal without asking."),
    store_dir: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Write the mark and its commitment's salt, to prove the commitment you published.

    This gives the mark away: whoever has it can filter it out of training sets.
    """
    with guarded(as_json):
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError("pass --yes to reveal the mark (it stops being secret)")
            if not typer.confirm(f"reveal mark {name}? It stops being secret", err=True):
                raise typer.Exit(int(ExitCode.BAD_INPUT))
        store = MarkStore.open(store_dir)
        folder = write_proof(store.get(name), store.info(name)["commitment"], out)
    if as_json:
        print_json({"proof": str(folder)})
        return
    stderr.print(f"proof written to {folder}: share it with whoever checks the commitment")


@marks_app.command("verify")
def marks_verify(
    proof: Path = typer.Argument(..., help="A folder written by `isotope marks reveal`."),
    commitment: str | None = typer.Option(
        None, "--commitment", help="The value published earlier, to check against."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Check a revealed mark against a commitment (needs no store: anyone can check)."""
    with guarded(as_json):
        check = check_proof(proof, commitment)
    ok = check.matches_recorded and check.matches_published is not False
    if as_json:
        print_json({**check.__dict__, "valid": ok})
    else:
        typer.echo(f"commitment recomputed from the revealed mark: {check.commitment}")
        if check.matches_published is not None:
            said = "matches" if check.matches_published else "does NOT match"
            typer.echo(f"it {said} the published value")
        if not check.matches_recorded:
            typer.echo("it does NOT match the value recorded in proof.json")
    if not ok:
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def mark_command(
    src: Path = typer.Argument(..., help="Folder of your photos (never modified)."),
    mark_name: str = typer.Option(..., "--mark", help="Name of a mark in the store."),
    out: Path = typer.Option(..., "--out", help="New folder for the images to post."),
    alpha: float | None = typer.Option(
        None,
        "--alpha",
        help=f"Blend strength α in (0, 1] (default: the mark's own, {DEFAULT_ALPHA} unless "
        "made with --for).",
    ),
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
    workers: int | None = typer.Option(
        None, "--workers", min=1, max=256, help="Threads (default: CPUs)."
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Finish a marking into --out that was interrupted (same source, mark and "
        "options): the files its journal recorded are kept, the rest are done.",
    ),
    store_dir: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Blend a mark into a share of the photos in SRC and write all of them to --out.

    Every file is recorded in a journal in the store before it appears in --out: if
    the run stops (Ctrl-C, a kill, a full disk), rerun with --resume to finish it.
    """
    ignore_bomb_warnings()
    with guarded(as_json):
        store = MarkStore.open(store_dir)
        mark = store.get(mark_name)
        if alpha is None:
            alpha = store.default_alpha(mark_name) or DEFAULT_ALPHA
        # Before the work: a person may stop and choose a stronger setting.
        check_alpha(alpha)
        check_fraction(fraction)
        weak = weak_setting_warnings(alpha, fraction, store.info(mark_name).get("purpose"))
        for warning in weak if not as_json else []:
            stderr.print(f"warning: {warning}", highlight=False, markup=False)
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
                resume=resume,
            )
        # A mark made --for faces: can a face service still find the marked faces?
        from audit.faces.detectability import check_after_marking

        faces = check_after_marking(store, mark_name, result.manifest)
    if as_json:
        faces_json = {"faces": faces.to_json()} if faces else {}
        print_json({**result.to_json(), **faces_json, "warnings": weak})
    else:
        stderr.print(result.summary(), highlight=False, markup=False)
        stderr.print(f"manifest (keep it private): {result.manifest}", highlight=False)
        if result.duplicates:
            stderr.print(f"{len(result.duplicates)} groups of identical files (treated alike)")
        if faces:
            stderr.print(faces.summary(), highlight=False, markup=False)
    for failure in result.failed:
        stderr.print(f"failed: {failure.path}: {failure.error}", highlight=False, markup=False)
    if result.failed:
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def register(app: typer.Typer) -> None:
    """Add ``marks`` (group) and ``mark`` to the root app."""
    app.add_typer(marks_app, name="marks")
    app.command("mark")(mark_command)
