"""The trainer refuses sizes that would exhaust memory, and a bad --out, before any work."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from providers.errors import ProviderOptionError
from providers.local import trainer
from providers.local.trainer import train

ROOT = Path(__file__).resolve().parents[3]


def test_a_huge_input_size_is_refused_before_loading_anything(
    colour_dir: Path, tmp_path: Path
) -> None:
    # In a child with capped memory: before the fix this allocates 90 x 30 GB.
    code = textwrap.dedent(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
        from pathlib import Path
        from providers.errors import ProviderOptionError
        from providers.local.trainer import train
        try:
            train(Path({str(colour_dir)!r}), Path({str(tmp_path / "m.pt")!r}),
                  input_size=100_000, epochs=1, device="cpu")
        except ProviderOptionError as exc:
            print("REFUSED", exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert "REFUSED --input-size 100000 is over the limit of 1024" in done.stdout, done.stderr
    assert not (tmp_path / "m.pt").exists()


def test_a_dataset_too_large_for_memory_is_refused_with_its_size(
    colour_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trainer, "MAX_DATASET_BYTES", 1_000_000)
    with pytest.raises(ProviderOptionError, match=r"90 images at 128x128 take 4\.4 MB") as caught:
        train(colour_dir, tmp_path / "m.pt", input_size=128, epochs=1, device="cpu")
    assert "--input-size" in str(caught.value)


@pytest.mark.parametrize("size", [0, 7, -3])
def test_a_tiny_input_size_is_refused(colour_dir: Path, tmp_path: Path, size: int) -> None:
    with pytest.raises(ProviderOptionError, match="--input-size"):
        train(colour_dir, tmp_path / "m.pt", input_size=size, epochs=1, device="cpu")


def test_out_is_checked_before_training(colour_dir: Path, tmp_path: Path) -> None:
    epochs: list[object] = []
    started = time.monotonic()
    with pytest.raises(ProviderOptionError, match=f"--out {tmp_path} is a folder"):
        train(colour_dir, tmp_path, epochs=50, device="cpu", on_epoch=epochs.append)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ProviderOptionError, match="is not a folder"):
        train(colour_dir, blocker / "m.pt", epochs=50, device="cpu", on_epoch=epochs.append)
    assert epochs == [] and time.monotonic() - started < 5
