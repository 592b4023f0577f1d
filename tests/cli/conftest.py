"""Fixtures for CLI tests: the real engine (the scenario writer ``write`` lives in
tests/conftest.py, the shared constants in tests/support.py)."""

from __future__ import annotations

import pytest

@pytest.fixture
def engine():
    """`vmsim run` uses the real engine (simulator.runner.run_specs)."""
    import simulator.runner
    return simulator.runner
