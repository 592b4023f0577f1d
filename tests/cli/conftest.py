"""Fixtures for scenario tests: a scratch directory and a scenario writer."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """\
name: mini
device: qemu-x86
allocators: [busy-list, free-list]
callers:
  - workload: seed-test1
    cpus: 0
stop:
  iterations: 10
seeds: [1, 2]
"""


@pytest.fixture
def write(tmp_path: Path):
    def _write(text: str, name: str = "x.yaml") -> Path:
        p = tmp_path / name
        p.write_text(textwrap.dedent(text))
        return p
    return _write


@pytest.fixture
def engine():
    """`vmsim run` uses the real engine (simulator.runner.run_specs)."""
    import simulator.runner
    return simulator.runner
