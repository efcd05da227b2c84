"""Shared helpers for the verifier tests: small simulated models."""

from __future__ import annotations

import pytest

from audit.verifiers.simulated_oracle import SimulatedOracle


@pytest.fixture
def make_oracle():
    """Factory for small simulated models (fast: 40 images, 50 external marks)."""

    def make(**options: object) -> SimulatedOracle:
        defaults: dict = {"n_images": 40, "n_external": 50, "seed": 1}
        defaults.update(options)
        return SimulatedOracle(**defaults)

    return make
