"""What a face audit's verdict does and does not say, in the words reports and the CLI print.

The shared wording (``audit.report.wording``) is about classifiers learning a mark; a
face collection stores the descriptor of each enrolled face, so its caveats differ.
"""

from __future__ import annotations

from audit.report.wording import NOT_PROOF, evidence_lines

NOT_PROOF_FACES = (
    "not detected is not proof that your photos were unused: the service may have "
    "enrolled them altered (cropped, resized, recompressed), enrolled other photos of you, "
    "or kept them in another collection"
)
NOT_PULLED = (
    "not detected: these faces were not matched by the mark; face engines mostly match "
    "near-identical images, so a mark rarely pulls new photos towards its isotopes"
)


def face_evidence_lines(result: dict, *, caveat: str = NOT_PROOF_FACES) -> list[str]:
    """``evidence_lines`` with the face audits' own caveat for "not detected"."""
    return [caveat if line == NOT_PROOF else line for line in evidence_lines(result)]


def with_caveat(summary: str, caveat: str) -> str:
    """A report summary written by ``audit.report.files`` with ``caveat`` for its own."""
    return summary.replace(NOT_PROOF, caveat)
