"""The ``isotope`` command line: parses, calls library code, prints.

Each command group lives in its own ``audit/cli_*.py`` module and registers itself here.
"""

from __future__ import annotations

import typer

from audit.cli import audit, local, marks, prepare, vertex

app = typer.Typer(
    name="isotope",
    help="Mark your images with secret isotopes, then audit whether a model was trained on them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for module in (marks, prepare, audit, local, vertex):
    module.register(app)


def main() -> None:
    """Console entry point."""
    app()
