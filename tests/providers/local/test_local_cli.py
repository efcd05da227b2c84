"""``isotope train`` / ``isotope serve``: output, one-line errors, clean SIGTERM shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from audit.cli.app import app
from providers.local.model_file import load_model

runner = CliRunner()


def test_train_json(colour_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    result = runner.invoke(
        app, ["train", str(colour_dir), "--out", str(out), "--epochs", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["labels"] == ["blue", "green", "red"] and summary["epochs"] == 1
    assert summary["n_train"] + summary["n_val"] == 90
    assert load_model(out)[1].labels == ["blue", "green", "red"]


def test_train_bad_input_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", str(tmp_path / "nope"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "not a folder" in result.stderr and "Traceback" not in result.output
    result = runner.invoke(
        app, ["train", str(tmp_path), "--out", str(tmp_path / "m"), "--device", "tpu"]
    )
    assert result.exit_code == 2


def test_serve_bad_model_and_missing_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"junk")
    result = runner.invoke(app, ["serve", str(bad), "--port", "0"])
    assert result.exit_code == 2 and "bad.pt" in result.stderr
    result = runner.invoke(app, ["serve", str(bad), "--api-key-env", "ISOTOPE_TEST_UNSET_KEY"])
    assert result.exit_code == 2 and "ISOTOPE_TEST_UNSET_KEY" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_serve_shuts_down_cleanly_on_sigterm(tiny_model: Path) -> None:
    port = _free_port()
    env = {**os.environ, "ISOTOPE_TEST_KEY": "k1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from audit.cli.app import main; main()", "serve", str(tiny_model),
         "--port", str(port), "--device", "cpu", "--api-key-env", "ISOTOPE_TEST_KEY"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.2)
        model = requests.get(f"http://127.0.0.1:{port}/model", timeout=5)
        assert model.status_code == 401
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert "Application shutdown complete" in stderr
    assert "Traceback" not in stderr and "k1" not in stderr
