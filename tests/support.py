"""Constants shared by the scenario and CLI tests (tests/ is on pytest's pythonpath)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

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
