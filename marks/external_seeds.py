"""Secret randomness for a mark's external marks, kept in the store.

External marks must be unknown to the service: anyone who can regenerate them can tell
the true mark's queries from theirs. So they are drawn from a fresh random key (32 bytes
from ``secrets``) kept privately in the store per (mark, family), never from anything
about the mark itself. The key is made on the mark's first audit and reused after, so a
resumed audit sends the very same external images and the ledger answers them free.

``externals/NAME.keys.json`` (0600) holds the mark's fingerprint and one key per family;
a mark replaced under the same name (``--force``) gets new keys. External ``i``'s seed
is HMAC-SHA256(key, "i:attempt") cut to 128 bits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING

from marks.atomic import write_atomic
from marks.errors import StoreError
from marks.mark import Mark
from marks.store import FILE_MODE, check_name

if TYPE_CHECKING:
    from marks.store import MarkStore

KEY_BYTES = 32
SEED_BYTES = 16  # 128-bit seeds, like a new mark's own
KEYS_SUFFIX = ".keys.json"


def new_key() -> bytes:
    """A fresh secret key (tests replace this to make verdicts reproducible)."""
    return secrets.token_bytes(KEY_BYTES)


def external_seed(key: bytes, index: int, attempt: int = 0) -> int:
    """The seed of external ``index`` (retry ``attempt``) under ``key``: 128 bits."""
    digest = hmac.new(key, f"{index}:{attempt}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:SEED_BYTES], "little")


def family_key(store: MarkStore, mark: Mark, family: str) -> bytes:
    """The secret key of ``mark``'s externals of ``family``, made on first use.

    Concurrent audits of one mark agree on one key (the store lock). Raises
    ``StoreError`` naming the file when the key file is damaged.
    """
    path = store.externals() / f"{check_name(mark.name)}{KEYS_SUFFIX}"
    with store.locked():
        record: dict = {}
        if path.exists():
            try:
                record = json.loads(store.read_private(path))
                if not isinstance(record, dict) or not isinstance(record.get("keys"), dict):
                    raise ValueError("no keys")
                for value in record["keys"].values():
                    if len(bytes.fromhex(value)) != KEY_BYTES:
                        raise ValueError("a short key")
            except (ValueError, TypeError, UnicodeDecodeError):
                raise StoreError(
                    f"external-mark keys file {path} is damaged; remove it to draw new "
                    "external marks (an audit already run then pays for their queries again)"
                ) from None
        if record.get("fingerprint") != mark.fingerprint:
            record = {"mark": mark.name, "fingerprint": mark.fingerprint, "keys": {}}
        key = record["keys"].get(family)
        if not isinstance(key, str):
            key = new_key().hex()
            record["keys"][family] = key
            data = json.dumps(record, indent=2).encode()
            write_atomic(path, data, mode=FILE_MODE, fsync=True)
    return bytes.fromhex(key)
