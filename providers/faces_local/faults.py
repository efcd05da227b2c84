"""Fault injection for tests: the local engine misbehaving like a busy or broken service.

``FaultPlan`` gives each fault a rate (0–1); for every request, one seeded draw picks at
most one fault, so a run is reproducible request by request. Faults:

- ``throttle``: HTTP 400 ``ThrottlingException``;
- ``throughput``: HTTP 400 ``ProvisionedThroughputExceededException``;
- ``server_error``: HTTP 500 ``InternalServerError``;
- ``slow``: the reply is delayed by ``slow_s`` seconds (then served normally);
- ``drop``: the connection is closed without a reply;
- ``malformed``: HTTP 200 with a body that is not JSON;
- ``trickle``: the real reply, its body sent in ten pieces over ``slow_s`` seconds
  (each read waits a tenth of it: only a client's overall deadline stops it).

``operations`` limits faults to those operations (None: all); the first ``skip``
requests that could be faulted are served normally; ``limit`` stops injecting after
that many faults (``providers.http.fault_draws``, the core shared with the test
fakes). ``FaultInjector`` is the ASGI middleware; swap its ``plan`` at any time (the
draw sequence restarts from the new plan's seed).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from providers.faces_local import wire
from providers.http.fault_draws import FaultDraws

FAULTS = ("throttle", "throughput", "server_error", "slow", "drop", "malformed", "trickle")
TRICKLE_PIECES = 10


@dataclass(frozen=True)
class FaultPlan:
    """How often each fault happens (see the module docstring)."""

    throttle: float = 0.0
    throughput: float = 0.0
    server_error: float = 0.0
    slow: float = 0.0
    drop: float = 0.0
    malformed: float = 0.0
    trickle: float = 0.0
    slow_s: float = 2.0
    seed: int = 0
    operations: frozenset[str] | None = None
    skip: int = 0
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.slow_s < 0:
            raise ValueError(f"slow_s must be >= 0, got {self.slow_s}")
        self.draws()  # validates the rates, skip and limit

    def draws(self, injected: Counter[str] | None = None) -> FaultDraws:
        """A fresh draw sequence for this plan, counting into ``injected``."""
        rates = {name: getattr(self, name) for name in FAULTS}
        return FaultDraws(
            rates, seed=self.seed, skip=self.skip, limit=self.limit, injected=injected
        )

    def applies_to(self, operation: str) -> bool:
        """Whether requests for ``operation`` may be faulted."""
        return self.operations is None or operation in self.operations


def _operation(scope: Scope) -> str:
    for key, value in scope.get("headers") or []:
        if key == b"x-amz-target":
            target = value.decode("latin-1")
            return target.removeprefix(wire.TARGET_PREFIX)
    return ""


class FaultInjector:
    """ASGI middleware injecting ``plan``'s faults; ``injected`` counts them by kind."""

    def __init__(self, app: ASGIApp, plan: FaultPlan | None = None) -> None:
        self.app = app
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self.plan = plan or FaultPlan()

    @property
    def plan(self) -> FaultPlan:
        """The plan in force."""
        return self._plan

    @plan.setter
    def plan(self, plan: FaultPlan) -> None:
        self._plan = plan
        self._draws = plan.draws(self.injected)

    def _draw(self, operation: str) -> str | None:
        if not self._plan.applies_to(operation):
            return None
        return self._draws.draw()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        self.requests += 1
        fault = self._draw(_operation(scope))
        if fault is None:
            await self.app(scope, receive, send)
        elif fault == "slow":
            await asyncio.sleep(self._plan.slow_s)
            await self.app(scope, receive, send)
        elif fault == "drop":
            await self._drop(scope, receive, send)
        elif fault == "trickle":
            await self.app(scope, receive, _trickling(send, self._plan.slow_s))
        elif fault == "malformed":
            await self._reply(send, 200, b'{"FaceMatches": [{"Similarity": 9')
        else:
            code = {
                "throttle": ("ThrottlingException", 400),
                "throughput": ("ProvisionedThroughputExceededException", 400),
                "server_error": ("InternalServerError", 500),
            }[fault]
            body = {"__type": code[0], "message": f"injected fault: {fault}"}
            await self._reply(send, code[1], json.dumps(body).encode())

    @staticmethod
    async def _reply(send: Send, status: int, body: bytes) -> None:
        headers = [
            (b"content-type", wire.CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _drop(scope: Scope, receive: Receive, send: Send) -> None:
        # uvicorn's ``send`` is a method of the request cycle, which holds the socket's
        # transport: abort it so the client sees the connection reset with no reply.
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is None:
            raise RuntimeError("a dropped-connection fault needs uvicorn's transport")
        transport.abort()
        await asyncio.sleep(0)  # let uvicorn see the connection is gone


def _trickling(send: Send, seconds: float) -> Send:
    """``send`` with the reply's body held back and sent in ``TRICKLE_PIECES`` pieces
    spread over ``seconds`` (headers first, as soon as the body is ready)."""
    held: list[Message] = []
    body = bytearray()

    async def trickle(message: Message) -> None:
        if message["type"] == "http.response.start":
            held.append(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        body.extend(message.get("body", b""))
        if message.get("more_body", False):
            return
        await send(held.pop())
        size = max(1, -(-len(body) // TRICKLE_PIECES))
        pieces = [bytes(body[i : i + size]) for i in range(0, len(body), size)] or [b""]
        for index, piece in enumerate(pieces):
            await asyncio.sleep(seconds / TRICKLE_PIECES)
            last = index == len(pieces) - 1
            await send({"type": "http.response.body", "body": piece, "more_body": not last})

    return trickle
