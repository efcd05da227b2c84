"""The Image Analysis SDK, imported only when an Azure adapter is built."""

from __future__ import annotations

from types import ModuleType

from providers.errors import MissingExtraError

PROVIDER = "azure"
EXTRA = "azure"


def require_sdk() -> ModuleType:
    """``azure.ai.vision.imageanalysis``, or ``MissingExtraError`` naming the pip extra."""
    try:
        import azure.ai.vision.imageanalysis as sdk
    except ImportError as exc:
        raise MissingExtraError(PROVIDER, EXTRA) from exc
    return sdk
