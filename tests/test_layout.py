"""Layout rules: data flows one way, marks → providers → audit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imported_packages(package: str) -> dict[str, set[str]]:
    """Top-level packages each module of ``package`` imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add((node.module or "").split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("marks", {"providers", "audit"}), ("providers", {"audit"})],
)
def test_data_flows_one_way(package: str, forbidden: set[str]) -> None:
    modules = _imported_packages(package)
    assert len(modules) > 10
    offenders = {path: names & forbidden for path, names in modules.items() if names & forbidden}
    assert offenders == {}
