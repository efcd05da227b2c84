"""The shared HTTP modules, the face engine's server and the fakes' fault plans load
without torch (the face engine runs where torch is not installed)."""

from __future__ import annotations

import subprocess
import sys

MODULES = (
    "providers.http.background_server",
    "providers.http.body_limit",
    "providers.http.deadline",
    "providers.http.fault_draws",
    "providers.http.sent",
    "providers.retry_after",
    "providers.faces_local.server",
    "providers.faces_local.faults",
    "fixtures.faults",
)


def test_no_torch_is_loaded() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not loaded, loaded[:5]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
