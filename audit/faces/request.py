"""``FaceAuditRequest``: what a third-party face audit asks, before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.faces.probes import ProbeSet
from audit.spending.budget import Budget
from audit.verifiers.protocol import Verifier
from marks.mark import Mark
from marks.store import MarkStore
from providers.face_collection import FaceCollection
from providers.rate_limit import RateLimiter
from providers.retry import RetryPolicy

DEFAULT_THRESHOLD = 80.0
"""FaceMatchThreshold of the searches (Rekognition's own default)."""
DEFAULT_MAX_FACES = 10
"""MaxFaces of the searches: the matches a reply lists at most."""
LIVE_REASON = (
    "the collection changed during the audit ({states}): the marks were not all compared "
    "on one collection state. Searches went out in a random order across marks, so a "
    "change reached your mark's searches no more than any external's, but only one state "
    "makes the marks exchangeable exactly"
)
"""Why a ``live`` audit that saw the face count change is approximate."""


@dataclass
class FaceAuditRequest:
    """Did ``collection`` enroll the copies of ``probes`` marked with ``mark``?

    ``store`` keeps the secret keys the external marks are drawn from (None: drawn for
    this run only, so a resumed audit pays again). ``limiter`` None uses the
    provider's default rate; ``retry`` None the standard policy. ``live`` audits a
    collection others keep enrolling into: face-count changes do not stop it (see
    ``LIVE_REASON``); the sequential test is refused there.
    """

    collection: FaceCollection
    verifier: Verifier
    mark: Mark
    probes: ProbeSet
    budget: Budget
    store: MarkStore | None = None
    max_faces: int = DEFAULT_MAX_FACES
    threshold: float = DEFAULT_THRESHOLD
    limiter: RateLimiter | None = None
    retry: RetryPolicy | None = None
    notes: list[str] = field(default_factory=list)
    live: bool = False
