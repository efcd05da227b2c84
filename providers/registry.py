"""Build a ``Classifier`` from ``--provider`` and ``--target``.

SDK-backed adapters are imported only when chosen, so a missing extra fails with its
``MissingExtraError`` message instead of breaking every command.

Mock targets are ``key=value`` pairs separated by commas, all optional::

    seed=0,labels=10,trained-on=MARK:LABEL[:EFFECT],mode=top_k,k=3

``labels`` is a count (10 gives CIFAR-10's names) or names joined by ``+``;
``trained-on`` (repeatable) plants a learned isotope of a held mark on a label
(effect in logits, default ``providers.mock.STRONG_EFFECT``). An empty target is a
clean model that learned nothing. A local target is the server's base URL (its API
key, if any, from ``$ISOTOPE_LOCAL_API_KEY``); a vertex target an endpoint resource
name (credentials from Application Default Credentials).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable

from marks.store import MarkStore
from providers.classifier import Classifier

PROVIDERS = ("mock", "local", "vertex")
LOCAL_API_KEY_ENV = "ISOTOPE_LOCAL_API_KEY"
"""Environment variable holding the API key of a local server started with one."""
CIFAR10_LABELS = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip
_MOCK_KEYS = {"seed", "labels", "trained-on", "mode", "k", "threshold"}


class TargetError(ValueError):
    """``--provider``/``--target`` cannot be turned into a classifier."""


def _mock_labels(value: str) -> list[str]:
    if value.isdigit():
        count = int(value)
        if count == 10:
            return list(CIFAR10_LABELS)
        if count < 2:
            raise TargetError(f"mock target: labels={value} must be at least 2")
        return [f"label{i}" for i in range(count)]
    return [name for name in value.split("+") if name]


def _parse_mock_target(target: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in target.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in _MOCK_KEYS:
            raise TargetError(
                f"mock target: cannot read {part!r}; use key=value with keys "
                f"{', '.join(sorted(_MOCK_KEYS))}"
            )
        fields.setdefault(key, []).append(value)
    return fields


def _number(fields: dict[str, list[str]], key: str, cast: Callable[[str], float]) -> float | None:
    if key not in fields:
        return None
    try:
        return cast(fields[key][-1])
    except ValueError:
        raise TargetError(f"mock target: {key}={fields[key][-1]!r} is not a number") from None


def build_mock(target: str, *, store: MarkStore | None, top_k: int | None = None) -> Classifier:
    """A ``MockClassifier`` described by ``target`` (see the module docstring)."""
    from providers.mock.classifier import STRONG_EFFECT, MockClassifier

    fields = _parse_mock_target(target)
    labels = _mock_labels(fields.get("labels", ["10"])[-1])
    seed = int(_number(fields, "seed", int) or 0)
    planted: dict[str, tuple[str, float]] = {}
    for spec in fields.get("trained-on", []):
        name, _, rest = spec.partition(":")
        label, _, effect_text = rest.partition(":")
        if not name or not label:
            raise TargetError(f"mock target: trained-on={spec!r} must be MARK:LABEL[:EFFECT]")
        if store is None:
            raise TargetError("mock target: trained-on needs the mark store")
        try:
            effect = float(effect_text) if effect_text else STRONG_EFFECT
        except ValueError:
            raise TargetError(
                f"mock target: effect in trained-on={spec!r} is not a number"
            ) from None
        if label not in labels:
            raise TargetError(f"mock target: trained-on label {label!r} is not one of {labels}")
        planted[store.get(name).fingerprint] = (label, effect)
    mode = fields.get("mode", ["top_k" if top_k else "full"])[-1]
    k = top_k if top_k is not None else _number(fields, "k", int)
    try:
        mock = MockClassifier(
            labels,
            seed=seed,
            planted=planted,
            mode=mode,
            k=None if k is None else int(k),
            threshold=_number(fields, "threshold", float),
        )
    except ValueError as exc:
        raise TargetError(f"mock target {target!r}: {exc}") from None
    # The ledger keys on the target: two mocks that answer differently must differ here.
    identity = json.dumps([labels, sorted((fp, lab, eff) for fp, (lab, eff) in planted.items())])
    mock.target = f"mock-{seed}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"
    return mock


def build_classifier(
    provider: str,
    target: str,
    *,
    store: MarkStore | None = None,
    top_k: int | None = None,
    api_endpoint: str | None = None,
) -> Classifier:
    """The classifier ``provider`` offers at ``target``.

    ``top_k`` asks for top-K output where the provider lets the client choose.
    ``api_endpoint`` points an SDK-backed provider at a private or local server.
    Raises ``TargetError`` for bad input and ``MissingExtraError`` for a missing SDK.
    """
    if top_k is not None and top_k < 1:
        raise TargetError(f"--top-k must be >= 1, got {top_k}")
    if provider == "mock":
        return build_mock(target, store=store, top_k=top_k)
    if provider == "local":
        from providers.local.client import LocalClassifier

        if not target:
            raise TargetError("--target for the local provider is the server URL")
        try:
            return LocalClassifier(
                target,
                api_key=os.environ.get(LOCAL_API_KEY_ENV) or None,
                output="top_k" if top_k else "full",
                k=top_k,
            )
        except ValueError as exc:
            raise TargetError(f"local target {target!r}: {exc}") from None
    if provider == "vertex":
        from providers.vertex.predict import VertexClassifier

        if top_k is not None:
            raise TargetError(
                "vertex endpoints decide their own output; top-K replies are detected "
                "without --top-k"
            )
        try:
            return VertexClassifier(target, api_endpoint=api_endpoint)
        except ValueError as exc:
            raise TargetError(str(exc)) from None
    raise TargetError(f"unknown provider {provider!r}: choose one of {', '.join(PROVIDERS)}")
