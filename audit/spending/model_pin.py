"""The model an audit's replies must come from, pinned when the audit starts.

A target (an endpoint, a URL) can serve another model tomorrow: redeployed under the
same name, retrained in place, or split between two deployed models. The ledger keys
every reply on the identity of the model that gave it, and an audit pins one identity
at its start, so that a cached reply of another model never answers and a reply of
another model mid-way stops the audit (``providers.errors.ModelChangedError``) rather
than mix two models into one verdict.

How the identity is learned, in order: the service tells it for free
(``Classifier.model_identity()``); else, when the ledger holds no reply for the target
yet, from the first reply (nothing cached could answer before it); else from one probe
query sent afresh, billed once. A service that never names the model that answered
(every reply on file says nothing) is pinned as unknown: its cached replies are tied to
the target alone, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass

TOLD = "told by the service"
PROBE = "a probe reply"
FIRST_REPLY = "the first reply"
NOT_TOLD = "not told by the service"


@dataclass(frozen=True)
class ModelPin:
    """The identity an audit's replies must come from, and how it was learned.

    ``identity`` None: the service does not say which model answers (``source`` is
    ``NOT_TOLD``).
    """

    identity: str | None
    source: str

    @property
    def key(self) -> str:
        """The identity as the ledger keys it ("" when unknown)."""
        return self.identity or ""

    def describe(self) -> str:
        """One line for people: the identity and where it came from."""
        if self.identity is None:
            return "unknown: the service does not say which model answers"
        return f"{self.identity} ({self.source})"

    def to_json(self) -> dict:
        """``{"identity", "learned_from"}`` for reports and ``--json``."""
        return {"identity": self.identity, "learned_from": self.source}


UNKNOWN_NOTE = (
    "the service does not say which model answers its queries: replies cached in this "
    "workspace are tied to the target alone, so a model redeployed under it would not be "
    "noticed; audit a redeployed model in a fresh workspace"
)


def changed_message(provider: str, target: str, pinned: str, answered: str) -> str:
    """Why an audit stopped: a reply came from ``answered``, not the pinned model."""
    return (
        f"the model answering {provider} target {target} changed during the audit: it "
        f"started with model {pinned}, and a reply now comes from model {answered}. The "
        "audit stopped rather than mix two models' replies into one verdict. Every reply "
        "received is kept in the ledger under the model that gave it; run the audit again "
        f"to audit the model serving now afresh (replies of {pinned} are never used for it)"
    )
