"""Without the ``azure`` extra: the registry entry still loads; building says what to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

from providers.errors import MissingExtraError
from providers.spec import BuildContext


def test_building_without_the_sdk_names_the_extra(monkeypatch, key_env):
    from providers.azure.spec import SPEC
    from providers.azure.tagger import AzureTagger

    monkeypatch.setitem(sys.modules, "azure.ai.vision.imageanalysis", None)
    with pytest.raises(MissingExtraError, match=r"isotope-audit\[azure\]"):
        AzureTagger("https://name.cognitiveservices.azure.com")
    with pytest.raises(MissingExtraError, match=r"isotope-audit\[azure\]"):
        SPEC.build(BuildContext(target="https://name.cognitiveservices.azure.com"))


def test_the_registry_entry_imports_no_sdk():
    code = (
        "import sys; import providers.azure.spec; "
        "loaded = sorted(m for m in sys.modules if m == 'azure' or m.startswith('azure.')); "
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
