"""Every verifier an ``isotope audit`` command can run: one ``MethodSpec`` each.

A command (``probability``, ``rank``, ``scan``, ``distinguish``) accepts only the
methods registered for it, so a method that makes no sense for a command is a usage
error naming the valid ones. Adding a verifier means adding its module and one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from audit.errors import VerifierOptionError
from audit.faces.calibrated import FaceCalibratedVerifier
from audit.faces.sequential import FaceSequentialVerifier
from audit.verifiers.besag_clifford import SequentialVerifier
from audit.verifiers.calibrated import CalibratedVerifier
from audit.verifiers.distinguish import Distinguisher
from audit.verifiers.label_scan import LabelScan
from audit.verifiers.paper import PaperVerifier
from audit.verifiers.protocol import Verifier
from audit.verifiers.rank import RankVerifier
from audit.verifiers.unpaired import UnpairedVerifier


@dataclass(frozen=True)
class MethodSpec:
    """One method of one command: how to build it, and what it is for."""

    command: str
    name: str
    build: Callable[..., Verifier]
    summary: str
    default: bool = False


METHODS: tuple[MethodSpec, ...] = (
    MethodSpec(
        "probability",
        "calibrated",
        CalibratedVerifier,
        "your mark ranked among 99 external marks on the same images (exact)",
        default=True,
    ),
    MethodSpec(
        "probability",
        "sequential",
        SequentialVerifier,
        "the same rank test, stopping at the first external that beats your mark "
        "(same decisions, far fewer queries on clean models)",
    ),
    MethodSpec(
        "probability",
        "paper",
        PaperVerifier,
        "the paper's Algorithm 1, for reproducing it (false positives on clean models)",
    ),
    MethodSpec(
        "rank",
        "rank",
        RankVerifier,
        "label j's rank with your mark ranked among 99 external marks (exact)",
        default=True,
    ),
    MethodSpec(
        "rank",
        "calibrated",
        partial(CalibratedVerifier, statistic="rank"),
        "calibrated, on minus the rank",
    ),
    MethodSpec(
        "rank",
        "sequential",
        partial(SequentialVerifier, statistic="rank"),
        "sequential rank test on minus the rank (same decisions, stops early)",
    ),
    MethodSpec(
        "scan",
        "scan",
        LabelScan,
        "every label at once: exact max-T over labels against 99 external marks",
        default=True,
    ),
    MethodSpec(
        "distinguish",
        "distinguish",
        Distinguisher,
        "each of two marks lifts its own label beyond 99 external marks (exact; "
        "--externals 0: the paper's paired test, not exact)",
        default=True,
    ),
    MethodSpec(
        "faces",
        "calibrated",
        FaceCalibratedVerifier,
        "your mark ranked among 99 external marks by how close a search with each, on "
        "the same photos, comes to an enrolled face (exact)",
        default=True,
    ),
    MethodSpec(
        "faces",
        "sequential",
        FaceSequentialVerifier,
        "the same rank test, stopping at the first external that comes as close as your "
        "mark (same decisions, far fewer searches on collections without your copies)",
    ),
    MethodSpec(
        "physical",
        "unpaired",
        UnpairedVerifier,
        "photos with a physical object vs without it (Welch)",
        default=True,
    ),
)


def commands() -> list[str]:
    """The commands that run verifiers, in registry order."""
    return list(dict.fromkeys(spec.command for spec in METHODS))


def methods(command: str) -> list[str]:
    """The method names ``command`` accepts, default first."""
    specs = sorted((s for s in METHODS if s.command == command), key=lambda s: not s.default)
    return [s.name for s in specs]


def method_spec(method: str, command: str | None = None) -> MethodSpec:
    """The spec of ``method`` for ``command`` (None: the first command that has it);
    ``VerifierOptionError`` naming the valid ones."""
    for spec in METHODS:
        if spec.name == method and command in (None, spec.command):
            return spec
    if command is None:
        names = ", ".join(dict.fromkeys(s.name for s in METHODS))
        raise VerifierOptionError(f"unknown method {method!r}; choose one of {names}")
    raise VerifierOptionError(
        f"method {method!r} does not apply to `audit {command}`: choose one of "
        f"{', '.join(methods(command))}"
    )


def default_method(command: str) -> str:
    """The method ``command`` runs when none is given."""
    return methods(command)[0]


def build_verifier(method: str, *, command: str | None = None, **options: object) -> Verifier:
    """The verifier ``method`` (of ``command``, if given) with its options.

    Options not given take each verifier's defaults; ``None`` values are dropped so a
    CLI can pass every flag through. An option the method does not take is a
    ``VerifierOptionError`` naming it.
    """
    spec = method_spec(method, command)
    given = {key: value for key, value in options.items() if value is not None}
    try:
        return spec.build(**given)
    except TypeError as exc:  # an option this method does not take
        raise VerifierOptionError(f"method {method!r}: {exc}") from None
