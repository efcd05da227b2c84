"""The face demo end to end, at a reduced size: marked copies found, originals not."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from audit.demo.faces import FaceDemoConfig, run_face_demo
from audit.verifiers.verdict import Verdict


def test_face_demo_reduced(tmp_path: Path) -> None:
    config = FaceDemoConfig(photos=4, strangers=6, options={"n": 2, "externals": 9, "level": 0.1})
    lines: list[str] = []
    result = run_face_demo(tmp_path / "demo", config=config, log=lines.append)
    assert result.marked_files == 2 and any("marked 2 of your 4 photos" in line for line in lines)
    assert stat.S_IMODE((tmp_path / "demo" / "store").stat().st_mode) == 0o700
    verdicts = {side.name: side.outcome.result for side in result.sides}
    assert verdicts["with-posted-copies"].verdict is Verdict.DETECTED
    assert verdicts["with-posted-copies"].p_value == 0.1
    assert verdicts["with-originals"].verdict is Verdict.NOT_DETECTED
    summary = json.loads(json.dumps(result.to_json()))
    assert set(summary["collections"]) == {"with-posted-copies", "with-originals"}
