"""Layout rule: the mark engine never imports ``providers`` or ``audit``."""

from __future__ import annotations

import ast
from pathlib import Path

MARKS = Path(__file__).resolve().parents[2] / "marks"


def test_marks_imports_neither_providers_nor_audit() -> None:
    offenders = []
    for path in sorted(MARKS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in ("providers", "audit")
            ]
    assert len(list(MARKS.rglob("*.py"))) > 10
    assert offenders == []
