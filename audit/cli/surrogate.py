"""CLI commands: ``isotope surrogate train`` (the person's own local surrogate models).

Thin: parse, call ``audit.surrogates.train``, print. Errors go through the shared guard.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from audit.cli.common import JsonOption, StoreOption, stderr
from audit.cli.guard import guarded
from audit.cli.local import epoch_bar

surrogate_app = typer.Typer(
    help="Train your own local surrogate models, to sharpen audits (--surrogate).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``surrogate`` group to the root app."""
    app.add_typer(surrogate_app, name="surrogate")


@surrogate_app.command("train")
def train_command(
    data_dir: Path = typer.Argument(
        ...,
        help="Folder with one subfolder per label: your original, unmarked photos of the "
        "label you audit, and other labelled images of the same kind.",
        file_okay=False,
    ),
    mark: str = typer.Option(..., "--mark", help="The mark you will audit (its name)."),
    label: str = typer.Option(..., "--label", help="The label it was posted under (j)."),
    out: Path = typer.Option(..., "--out", help="New folder for the models and manifest."),
    decoys: int = typer.Option(
        3,
        "--decoys",
        min=0,
        max=20,
        help="Decoy surrogates: each learns a fresh secret mark of your mark's family "
        "blended into the label as yours was (they predict how a trained model treats the "
        "whole family).",
    ),
    clean: bool = typer.Option(False, "--clean", help="Also train one surrogate as is."),
    epochs: int = typer.Option(25, "--epochs", min=1, max=10_000, help="Epochs per model."),
    arch: str = typer.Option("small", "--arch", help="small (fast CNN) or resnet18."),
    device: str = typer.Option("auto", "--device", help="auto (GPU when present), cpu, cuda."),
    alpha: float | None = typer.Option(
        None, "--alpha", help="α of the decoys (default: the α your mark was posted with)."
    ),
    fraction: float = typer.Option(
        0.1, "--fraction", help="Share of the label's images carrying a decoy (as posted)."
    ),
    input_size: int | None = typer.Option(
        None, "--input-size", min=8, max=1024, help="Image side (default: data's, ≤ 64)."
    ),
    seed: int | None = typer.Option(
        None, "--seed", min=0, max=2**63 - 1, help="Training seed (decoys stay secret)."
    ),
    store_dir: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Train surrogate models for `isotope audit probability|rank --surrogate OUT`.

    Everything runs on this machine and nothing is sent: the surrogates learn your own
    data, never your marked images (files recorded as marked copies are refused) and
    never the audited model's replies, so audits adjusted by them stay exact. The
    decoys' seeds are kept in your private store, so audits keep their external marks
    away from them.
    """
    from audit.surrogates.train import plan_surrogates, train_surrogates
    from marks.store import MarkStore

    with guarded(as_json):
        store = MarkStore.open(store_dir)
        store.get(mark)  # an unknown mark is refused before anything else
        plan = plan_surrogates(
            data_dir,
            label=label,
            decoys=decoys,
            clean=clean,
            epochs=epochs,
            input_size=input_size,
        )
        if not as_json:
            stderr.print(plan.describe(device), highlight=False, markup=False)
        with epoch_bar(not as_json) as bar:
            manifest = train_surrogates(
                data_dir,
                out,
                store=store,
                mark_name=mark,
                label=label,
                decoys=decoys,
                clean=clean,
                epochs=epochs,
                arch=arch,
                device=device,
                alpha=alpha,
                fraction=fraction,
                input_size=input_size,
                seed=seed,
                on_epoch=bar,
            )
    if as_json:
        typer.echo(json.dumps({"out": str(out), "plan": asdict(plan), **manifest.public()}))
        return
    accuracies = ", ".join(
        f"{m.file} {'-' if m.val_acc is None else f'{m.val_acc:.3f}'}" for m in manifest.models
    )
    typer.echo(
        f"surrogates: {out} ({manifest.describe()})\n"
        f"held-out accuracy: {accuracies}; {manifest.seconds:.0f} s on {manifest.device}\n"
        f"use them with: isotope audit probability --mark {mark} --label {label} ... "
        f"--surrogate {out}"
    )
