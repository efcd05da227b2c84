"""Nothing lost: every stop of `mark_folder` leaves a record matching --out, and a rerun resumes.

Real signals go to real child processes; a read-only store is made with ``chattr +i``
(root) or ``chmod`` (anyone else).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from marks import marking
from marks.errors import MarkingError, MarkingStopped
from marks.journal import journal_path, read_journal
from marks.kinds import make_mark
from marks.marking import mark_folder, recover_marking
from marks.out_lock import OutFolderBusyError
from marks.store import MarkStore

ROOT = Path(__file__).resolve().parents[2]
SEED = 11
FRACTION = 0.3

CHILD = """
import json, sys, time
from pathlib import Path
from marks import marking
from marks.errors import MarkingInterrupted
from marks.marking import mark_folder
from marks.store import MarkStore

src, out, root, delay = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
fraction, seed = float(sys.argv[5]), int(sys.argv[6])
store = MarkStore.open(Path(root))
read = marking._read

def slow_read(path):  # tiny photos: slow each file down so signals land mid-run
    time.sleep(delay)
    return read(path)

marking._read = slow_read

def progress(done, total):
    print(f"progress {done} {total}", flush=True)

try:
    result = mark_folder(Path(src), Path(out), store.get("t"), fraction=fraction,
                         seed=seed, store=store, workers=2, progress=progress)
except MarkingInterrupted as exc:
    print("INTERRUPTED " + json.dumps({"manifest": str(exc.manifest), "message": str(exc)}),
          flush=True)
    sys.exit(3)
print("RESULT " + json.dumps(result.to_json()), flush=True)
"""


@pytest.fixture
def source(tmp_path: Path, kit) -> Path:
    """40 photos: JPEGs, PNGs, and GIFs (which are renamed to PNG when marked)."""
    src = tmp_path / "src"
    for i in range(34):
        kit.save(src / f"p{i:02d}.jpg", kit.photo(seed=i), quality=90)
    for i in range(3):
        kit.save(src / "sub" / f"q{i}.png", kit.photo(seed=100 + i))
        kit.save(src / f"g{i}.gif", kit.photo(seed=200 + i))
    return src


def on_disk(out: Path) -> dict[str, str]:
    """Every file under ``out`` (hidden ones too) with its SHA-256."""
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def recorded(manifest: dict) -> dict[str, str]:
    return {f["output"]: f["output_sha256"] for f in manifest["files"]}


def marked_sources(manifest: dict) -> dict[str, str]:
    return {f["source"]: f["output_sha256"] for f in manifest["files"] if f["marked"]}


def reference(source: Path, store: MarkStore, tmp_path: Path) -> dict:
    """The manifest of an uninterrupted run with the same seed and options."""
    result = mark_folder(
        source, tmp_path / "reference", store.get("t"), fraction=FRACTION, seed=SEED, store=store
    )
    return json.loads(result.manifest.read_text())


def start_child(source: Path, out: Path, store: MarkStore, delay: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *map(str, (source, out, store.root, delay, FRACTION, SEED))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def wait_for_progress(child: subprocess.Popen, done: int) -> None:
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("progress") and int(line.split()[1]) >= done:
            return
    raise AssertionError(f"child ended before {done} files: {child.stderr.read()}")  # type: ignore[union-attr]


def resume_and_compare(source: Path, out: Path, store: MarkStore, want: dict) -> dict:
    """Resume into ``out``; the result must match ``out`` and the uninterrupted run."""
    result = mark_folder(
        source, out, store.get("t"), fraction=FRACTION, store=store, resume=True
    )  # the seed comes from the journal
    manifest = json.loads(result.manifest.read_text())
    assert manifest["complete"] is True and manifest["seed"] == SEED
    assert recorded(manifest) == on_disk(out)
    assert marked_sources(manifest) == marked_sources(want)
    assert recorded(manifest) == recorded(want)
    assert not journal_path(store.journals_dir, out.resolve()).exists()  # finished: removed
    return manifest


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_leaves_a_partial_manifest_matching_out(
    source: Path, store: MarkStore, tmp_path: Path, signum: int
) -> None:
    out = tmp_path / "out"
    child = start_child(source, out, store, delay=0.05)
    wait_for_progress(child, 6)
    child.send_signal(signum)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 3, stderr
    line = next(x for x in stdout.splitlines() if x.startswith("INTERRUPTED"))
    report = json.loads(line.split(" ", 1)[1])
    assert signal.Signals(signum).name in report["message"] and "--resume" in report["message"]
    partial = json.loads(Path(report["manifest"]).read_text())
    assert partial["complete"] is False
    assert recorded(partial) == on_disk(out)  # exactly what is there, marked or not
    assert 6 <= len(partial["files"]) < 40
    journal = journal_path(store.journals_dir, out.resolve())
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.journals_dir.stat().st_mode) == 0o700
    resume_and_compare(source, out, store, reference(source, store, tmp_path))


def test_sigkill_leaves_a_journal_that_accounts_for_out_and_resumes(
    source: Path, store: MarkStore, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    child = start_child(source, out, store, delay=0.05)
    wait_for_progress(child, 8)
    child.kill()
    child.communicate(timeout=60)
    files = on_disk(out)
    assert files  # some written, some of them marked, no manifest saved
    assert not [m for m in store.manifests() if m.get("complete") is True]

    # A plain rerun refuses, and says what is there without naming a marked file.
    with pytest.raises(MarkingError, match="unfinished marking") as caught:
        mark_folder(source, out, store.get("t"), fraction=FRACTION, seed=SEED, store=store)
    message = str(caught.value)
    recovery = recover_marking(out, store)
    assert recovery is not None and str(recovery.manifest) in message
    assert "--resume" in message and f"{len(recovery.survey.marked)} marked" in message
    assert not any(name in message for name in files)
    saved = json.loads(recovery.manifest.read_text())
    assert stat.S_IMODE(recovery.manifest.stat().st_mode) == 0o600
    # Every file in --out is either listed (with its digest) or a leftover of a cut write.
    assert set(files) == set(recorded(saved)) | set(saved["leftovers"])
    assert all(files[name] == digest for name, digest in recorded(saved).items())
    assert on_disk(out) == files  # explaining changed nothing

    resume_and_compare(source, out, store, reference(source, store, tmp_path))


def test_an_unexpected_error_is_raised_as_itself_after_recording_what_was_done(
    source: Path, store: MarkStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = marking.blend
    calls = {"n": 0}
    lock = threading.Lock()

    def buggy(image: np.ndarray, mark, alpha: float) -> np.ndarray:
        with lock:
            calls["n"] += 1
            if calls["n"] == 6:
                raise RuntimeError("a bug in blending")
        return real(image, mark, alpha)

    monkeypatch.setattr(marking, "blend", buggy)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="a bug in blending"):
        mark_folder(
            source, out, store.get("t"), fraction=FRACTION, seed=SEED, store=store, workers=2
        )
    partial = next(m for m in store.manifests() if m.get("stopped") == "RuntimeError")
    assert partial["complete"] is False and recorded(partial) == on_disk(out)
    monkeypatch.setattr(marking, "blend", real)
    resume_and_compare(source, out, store, reference(source, store, tmp_path))


def _freeze(path: Path) -> None:
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot make {path} immutable here: {done.stderr.decode().strip()}")
    else:
        path.chmod(0o500 if path.is_dir() else 0o400)


def _thaw(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o700 if path.is_dir() else 0o600)


def test_a_store_turning_read_only_mid_run_stops_with_the_journal_matching_out(
    source: Path, store: MarkStore, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    journal = journal_path(store.journals(), out.resolve())
    frozen: list[Path] = []

    def progress(done: int, _total: int) -> None:
        if done == 5 and not frozen:
            frozen.extend([journal, store.manifests_dir, store.journals_dir])
            for path in frozen:
                _freeze(path)

    try:
        with pytest.raises(MarkingStopped) as caught:
            mark_folder(
                source,
                out,
                store.get("t"),
                fraction=FRACTION,
                seed=SEED,
                store=store,
                progress=progress,
                workers=1,
            )
        files = on_disk(out)
        assert str(journal) in str(caught.value) and "--resume" in str(caught.value)
        # The journal (all that the store kept) accounts for every file in --out.
        writes = {(w.output, w.output_sha256) for w in read_journal(journal).writes}
        assert set(files.items()) <= writes
        assert 5 <= len(files) < 40 or os.geteuid() != 0
    finally:
        for path in frozen:
            _thaw(path)
    resume_and_compare(source, out, store, reference(source, store, tmp_path))


def test_a_second_run_into_the_same_out_is_refused_while_the_first_runs(
    source: Path, store: MarkStore, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = start_child(source, out, store, delay=0.1)
    wait_for_progress(first, 2)
    second = start_child(source, out, store, delay=0.0)
    _, error = second.communicate(timeout=60)
    assert second.returncode != 0
    assert "being written by another isotope run" in error and OutFolderBusyError.__name__ in error
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    result = json.loads(next(x for x in stdout.splitlines() if x.startswith("RESULT"))[7:])
    manifest = json.loads(Path(result["manifest"]).read_text())
    assert recorded(manifest) == on_disk(out)
    assert len([m for m in store.manifests() if m.get("out_dir") == str(out.resolve())]) == 1


def test_resume_refuses_other_options_and_unknown_files(
    source: Path, store: MarkStore, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    child = start_child(source, out, store, delay=0.05)
    wait_for_progress(child, 4)
    child.kill()
    child.communicate(timeout=60)
    mark = store.get("t")
    with pytest.raises(MarkingError, match="fraction"):
        mark_folder(source, out, mark, fraction=0.5, store=store, resume=True)
    with pytest.raises(MarkingError, match="--seed differs"):
        mark_folder(source, out, mark, fraction=FRACTION, seed=SEED + 1, store=store, resume=True)
    store.add(make_mark("other", "procedural", seed=1234))
    with pytest.raises(MarkingError, match="another mark"):
        mark_folder(source, out, store.get("other"), fraction=FRACTION, store=store, resume=True)
    (out / "mine.txt").write_text("not written by isotope")
    with pytest.raises(MarkingError, match=r"never wrote \(mine.txt\)"):
        mark_folder(source, out, mark, fraction=FRACTION, store=store, resume=True)
    (out / "mine.txt").unlink()
    resume_and_compare(source, out, store, reference(source, store, tmp_path))


def test_resume_redoes_files_whose_source_changed(
    source: Path, store: MarkStore, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    child = start_child(source, out, store, delay=0.05)
    wait_for_progress(child, 10)
    child.kill()
    child.communicate(timeout=60)
    recovery = recover_marking(out, store)
    assert recovery is not None and recovery.survey.present
    changed = sorted(recovery.survey.present)[0]
    Image.fromarray(np.full((48, 64, 3), 9, np.uint8)).save(source / changed, quality=90)
    result = mark_folder(source, out, store.get("t"), fraction=FRACTION, store=store, resume=True)
    manifest = json.loads(result.manifest.read_text())
    entry = next(f for f in manifest["files"] if f["source"] == changed)
    assert entry["source_sha256"] == hashlib.sha256((source / changed).read_bytes()).hexdigest()
    assert recorded(manifest) == on_disk(out)
    assert 0 < result.resumed < 40


def test_journal_lines_are_flushed_before_each_output(
    source: Path, store: MarkStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every time an output appears, the journal on disk already describes it.
    out = tmp_path / "out"
    real = marking.write_atomic
    seen: list[bool] = []

    def checked(path: Path, data: bytes, **options: object) -> None:
        journal = read_journal(journal_path(store.journals_dir, out.resolve()))
        digest = hashlib.sha256(data).hexdigest()
        rel = str(path.relative_to(out.resolve()))
        seen.append(any(w.output == rel and w.output_sha256 == digest for w in journal.writes))
        real(path, data, **options)

    monkeypatch.setattr(marking, "write_atomic", checked)
    mark_folder(source, out, store.get("t"), fraction=FRACTION, seed=SEED, store=store)
    assert len(seen) == 40 and all(seen)


def test_resume_on_an_empty_out_is_a_fresh_run(
    store: MarkStore, photos: Path, tmp_path: Path
) -> None:
    result = mark_folder(photos, tmp_path / "new", store.get("t"), store=store, resume=True)
    assert result.marked + result.copied == 21 and result.resumed == 0
    with pytest.raises(MarkingError, match="no journal in the store records it"):
        mark_folder(photos, tmp_path / "new", store.get("t"), store=store, resume=True)
    started = time.monotonic()
    assert recover_marking(tmp_path / "new", store) is None
    assert time.monotonic() - started < 5
