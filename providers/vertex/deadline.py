"""Overall deadlines for the Vertex AI SDK's calls, as far as the SDK lets them be bounded.

- REST: the SDK passes its ``timeout`` to ``requests``, which applies it to connecting
  and to each socket read, not to the whole reply. The overall bound comes from
  ``providers.http.deadline``: a ``DeadlineAdapter`` mounted on the REST session of
  each gapic client the adapter uses, and the call made inside ``call_deadline``.
  Those sessions are reached through the gapic transports' ``_session`` attribute; a
  transport without one (a future SDK) keeps only the per-read timeout.
- gRPC: ``timeout`` is a gRPC deadline, a bound on the whole call already.

The prediction client lives as long as the endpoint object, so it is bound once; the
endpoint service client is built afresh by the SDK for every call, so each call binds
its own.
"""

from __future__ import annotations

from typing import Any

import requests

from providers.http.deadline import mount_deadline


def bind_client(client: Any) -> bool:
    """Mount a ``DeadlineAdapter`` on ``client``'s REST session; False when it has none
    (gRPC, or an SDK whose transport keeps its session elsewhere)."""
    transport = getattr(client, "transport", None) or getattr(client, "_transport", None)
    session = getattr(transport, "_session", None)
    if not isinstance(session, requests.Session):
        return False
    if not getattr(session, "_isotope_deadline", False):
        mount_deadline(session)
        session._isotope_deadline = True  # type: ignore[attr-defined]
    return True


def bind_prediction_client(endpoint: Any) -> bool:
    """Bind every API version's prediction client of an ``aiplatform.Endpoint``."""
    clients = getattr(endpoint._prediction_client, "_clients", {})
    return any([bind_client(client) for client in clients.values()])


def bound_method(client_with_override: Any, name: str) -> Any:
    """``client_with_override.<name>`` (the SDK builds a new gapic client for each
    attribute read), its client's REST session bound first."""
    method = getattr(client_with_override, name)
    bind_client(getattr(method, "__self__", None))
    return method
