"""The demo's pipeline end to end, at a reduced size (generated data, two tiny models)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest

from audit.demo.data import LABELS, generate_arrays, write_folder
from audit.demo.run import DemoConfig, run_demo
from audit.verifiers.verdict import Verdict


def test_generated_set_is_balanced_and_seeded(tmp_path: Path) -> None:
    x, y = generate_arrays(3, seed=5)
    assert x.shape == (30, 32, 32, 3) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [3] * 10
    assert np.array_equal(generate_arrays(3, seed=5)[0], x)
    assert not np.array_equal(generate_arrays(3, seed=6)[0], x)
    # Colour varies within a class: the label is in the shape, not the mean colour.
    assert x[y == 0].reshape(3, -1, 3).mean(1).std(0).max() > 10
    out = write_folder(tmp_path / "d", 2, seed=0, labels=[1, 4])
    assert sorted(p.name for p in out.iterdir()) == [LABELS[1], LABELS[4]]
    assert len(list((out / LABELS[4]).glob("*.png"))) == 2


@pytest.mark.slow
def test_demo_pipeline_reduced(tmp_path: Path) -> None:
    config = DemoConfig(
        per_class=30,
        aux_per_class=4,
        epochs=2,
        options={"n": 8, "externals": 9, "level": 0.1},  # p ≥ 1/10 with 9 externals
        device="cpu",
    )
    lines: list[str] = []
    with pytest.raises(ValueError, match="not empty"):
        (tmp_path / "busy").mkdir()
        (tmp_path / "busy" / "x").write_text("x")
        run_demo(tmp_path / "busy", config=config)
    result = run_demo(tmp_path / "demo", config=config, log=lines.append)
    assert result.label == "triangle" and result.marked_files == 3  # round(0.1 · 30)
    assert any("marked 3 images" in line for line in lines)
    work = result.workdir
    # The mark lives only in the private store, never among the training images.
    assert stat.S_IMODE((work / "store").stat().st_mode) == 0o700
    assert not list((work / "train-with-isotopes").rglob("*.npz"))
    for side in result.sides:
        outcome = side.outcome
        assert outcome.result.method == "calibrated"
        assert outcome.result.verdict in (Verdict.DETECTED, Verdict.NOT_DETECTED)
        assert 0.0 <= outcome.result.p_value <= 1.0
        assert outcome.counts.billed == (1 + 9) * 8
        assert outcome.to_json()["surrogate"]  # adjusted by the demo's decoy surrogates
        report = json.loads((outcome.report.folder / "report.json").read_text())
        assert report  # written to disk
        assert side.training.model_path.is_file()
    summary = result.to_json()
    assert set(summary["models"]) == {"isotope", "control"} and summary["decoys"] == 3
    assert len(list((work / "surrogates").glob("decoy-*.pt"))) == 3
