"""Verifiers: statistical tests of "the model learned the person's mark".

Each one states its null hypothesis, says what it ``needs`` before any query and has
``run(oracle, question) -> VerifierResult`` (``audit.verifiers.protocol``); the
registry (``audit.verifiers.registry``) says which command runs which. Every result
names the calibration that produced its p-value and whether that p-value is exact
(``audit.verifiers.exactness``).
"""
