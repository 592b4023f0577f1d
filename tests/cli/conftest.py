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
def engine(monkeypatch):
    """The real engine behind `vmsim run`.  Until simulator.runner lands, a sequential
    stand-in built on simulator.engine.simulate (same Results fields)."""
    try:
        import simulator.runner  # noqa: F401
        return
    except ImportError:
        pass
    from types import SimpleNamespace

    import pandas as pd

    import simulator.cli as cli
    from simulator.engine import simulate

    def run_specs(specs, jobs, progress):
        rs = []
        for s in specs:
            rs.append(simulate(s))
            progress(s)
        summary = pd.DataFrame([r.summary if isinstance(r.summary, dict) else r.summary.iloc[0]
                                for r in rs])
        return SimpleNamespace(ops=pd.concat([r.ops for r in rs], ignore_index=True),
                               timeseries=pd.concat([r.timeseries for r in rs], ignore_index=True),
                               summary=summary, log=[ln for r in rs for ln in r.log], specs=specs)
    monkeypatch.setattr(cli, "_run_specs", run_specs)
