"""`isotope providers`: every registered provider, its help text printed as written."""

from __future__ import annotations

import json

from audit.cli.app import app
from providers import registry


def test_providers_lists_every_spec_as_json(runner) -> None:
    result = runner.invoke(app, ["providers", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["providers"]
    assert [(r["name"], r["kind"]) for r in rows] == [
        (s.name, s.kind.value) for s in registry.SPECS
    ]


def test_providers_table_keeps_brackets_in_help_text(runner) -> None:
    result = runner.invoke(app, ["providers"], catch_exceptions=False, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.stderr
    # Rich would swallow "[a-zA-Z0-9_.-]" as markup if the help were not escaped.
    assert "[a-zA-Z0-9_.-]" in result.stdout
    assert "rate: client-side rate limit" in result.stdout
