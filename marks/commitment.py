"""Salted SHA-256 commitments to a mark, publishable before a model is trained.

``value = SHA-256(salt ‖ fingerprint)`` where ``salt`` is 32 random bytes and
``fingerprint`` is the mark's pixel SHA-256 (hex, ASCII). Publishing ``value`` early
reveals nothing about the mark (the salt hides even a guessed mark); revealing the
salt and the mark later lets anyone recompute it, proving the mark existed when
``value`` was published.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCHEME = "sha256(salt || fingerprint_hex)"


@dataclass(frozen=True)
class Commitment:
    """A commitment ``value`` (public) and its ``salt`` (secret until revealed), in hex."""

    value: str
    salt: str
    scheme: str = SCHEME


def commitment_value(salt_hex: str, fingerprint: str) -> str:
    """Recompute the commitment for a salt (hex) and a mark fingerprint (hex)."""
    return hashlib.sha256(bytes.fromhex(salt_hex) + fingerprint.encode("ascii")).hexdigest()


def make_commitment(fingerprint: str) -> Commitment:
    """Commit to a mark fingerprint with a fresh random salt."""
    salt = secrets.token_hex(32)
    return Commitment(value=commitment_value(salt, fingerprint), salt=salt)


def verify_commitment(value: str, salt_hex: str, fingerprint: str) -> bool:
    """True if ``value`` commits to ``fingerprint`` with ``salt_hex``."""
    return hmac.compare_digest(value, commitment_value(salt_hex, fingerprint))
