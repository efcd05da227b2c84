"""The seed of an audit's shuffled query order, kept in the workspace and never in a report.

The oracle sends each round's (mark, image) pairs in an order shuffled by a fresh seed
(``ProviderOracle.order_seed``). The seed is what reproduces that order, so it is kept;
but whoever held it and the service's request log could tell which requests carried the
true mark (mark 0 before the shuffle), so it stays beside the ledger, private, while the
report (meant to be shareable) only says the order was shuffled.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

ORDER_FILE = "query-order.jsonl"


def record_order_seed(workspace: Path, seed: int, report: Path | None) -> Path:
    """Append ``seed`` (and the report it belongs to) to the workspace's order file."""
    path = Path(workspace) / ORDER_FILE
    line = {"time": datetime.now(UTC).isoformat(), "report": str(report or ""), "seed": seed}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # private, as the ledger
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
    return path
