"""The CLI commands under test, on a root app of their own."""

from __future__ import annotations

import pytest
import typer

from audit.cli import marks as cli_marks
from audit.cli import prepare as cli_prepare


@pytest.fixture
def cli() -> typer.Typer:
    """The mark engine's commands on a root app (as ``audit.cli.app`` registers them)."""
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    cli_marks.register(app)
    cli_prepare.register(app)
    return app
