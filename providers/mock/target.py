"""The mock's ``--target``: ``key=value`` pairs separated by commas, all optional::

    seed=0,labels=10,trained-on=MARK:LABEL[:EFFECT],mode=top_k,k=3

``labels`` is a count (10 gives CIFAR-10's names) or names joined by ``+``;
``trained-on`` (repeatable) plants a learned isotope of a held mark on a label
(effect in logits, default ``STRONG_EFFECT``). An empty target is a clean model that
learned nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from providers.errors import ProviderOptionError
from providers.mock.classifier import STRONG_EFFECT, MockClassifier

CIFAR10_LABELS = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip
_KEYS = {"seed", "labels", "trained-on", "mode", "k", "threshold"}


def _labels(value: str) -> list[str]:
    if value.isdigit():
        count = int(value)
        if count == 10:
            return list(CIFAR10_LABELS)
        if not 2 <= count <= 10_000:
            raise ProviderOptionError(f"mock target: labels={value} must be from 2 to 10000")
        return [f"label{i}" for i in range(count)]
    return [name for name in value.split("+") if name]


def _fields(target: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in target.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in _KEYS:
            raise ProviderOptionError(
                f"mock target: cannot read {part!r}; use key=value with keys "
                f"{', '.join(sorted(_KEYS))}"
            )
        fields.setdefault(key, []).append(value)
    return fields


def _number(fields: dict[str, list[str]], key: str, cast: Callable[[str], float]) -> float | None:
    if key not in fields:
        return None
    try:
        return cast(fields[key][-1])
    except ValueError:
        raise ProviderOptionError(
            f"mock target: {key}={fields[key][-1]!r} is not a number"
        ) from None


def mock_from_target(
    target: str,
    *,
    resolve_mark: Callable[[str], str] | None,
    top_k: int | None = None,
) -> MockClassifier:
    """The ``MockClassifier`` ``target`` describes (see the module docstring).

    ``resolve_mark`` maps a held mark's name to its fingerprint, for ``trained-on``.
    """
    fields = _fields(target)
    labels = _labels(fields.get("labels", ["10"])[-1])
    seed = int(_number(fields, "seed", int) or 0)
    planted: dict[str, tuple[str, float]] = {}
    for spec in fields.get("trained-on", []):
        name, _, rest = spec.partition(":")
        label, _, effect_text = rest.partition(":")
        if not name or not label:
            raise ProviderOptionError(
                f"mock target: trained-on={spec!r} must be MARK:LABEL[:EFFECT]"
            )
        if resolve_mark is None:
            raise ProviderOptionError("mock target: trained-on needs the mark store")
        try:
            effect = float(effect_text) if effect_text else STRONG_EFFECT
        except ValueError:
            raise ProviderOptionError(
                f"mock target: effect in trained-on={spec!r} is not a number"
            ) from None
        if label not in labels:
            raise ProviderOptionError(
                f"mock target: trained-on label {label!r} is not one of {labels}"
            )
        planted[resolve_mark(name)] = (label, effect)
    mode = fields.get("mode", ["top_k" if top_k else "full"])[-1]
    k = top_k if top_k is not None else _number(fields, "k", int)
    try:
        return MockClassifier(
            labels,
            seed=seed,
            planted=planted,
            mode=mode,
            k=None if k is None else int(k),
            threshold=_number(fields, "threshold", float),
        )
    except ValueError as exc:
        raise ProviderOptionError(f"mock target {target!r}: {exc}") from None
