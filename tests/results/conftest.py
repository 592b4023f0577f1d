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


def write_and_run(tmp_path: Path, text: str, *args: str, name: str = "s.yaml",
                  check: bool = True) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """Write scenario ``text`` to ``tmp_path/name`` and ``vmsim run`` it into
    ``tmp_path/out`` with ``args``: (scenario path, results dir, process)."""
    sc = tmp_path / name
    sc.write_text(text)
    out = tmp_path / "out"
    return sc, out, vmsim("run", str(sc), "--out", str(out), *args, check=check)
