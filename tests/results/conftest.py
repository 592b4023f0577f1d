"""Helpers for the results tests: run `vmsim` as a user does (a subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def vmsim(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """``vmsim ARGS`` in a subprocess (the console script's own entry point)."""
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"vmsim {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


@pytest.fixture
def run_vmsim():
    return vmsim
