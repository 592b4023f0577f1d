"""Running ``vmsim`` as a user does (a child process) and checking the bad-input promise:
exit status 2, exactly one line on stderr naming the file and the place, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import REPO


def vmsim_command() -> list[str]:
    """The installed ``vmsim`` script beside this Python, else ``python -m simulator.cli``."""
    script = Path(sys.executable).parent / "vmsim"
    return [str(script)] if script.exists() else [sys.executable, "-m", "simulator.cli"]


def vmsim(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([*vmsim_command(), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def tree(root: Path) -> set[str]:
    """Every path under ``root`` (hidden ones too), relative."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def assert_bad_input(res: subprocess.CompletedProcess[str], *names: str, before: set[str] | None = None,
                     root: Path | None = None) -> str:
    """Exit 2, one stderr line containing every string of ``names``, no traceback,
    and (with ``before``/``root``) nothing new under ``root``."""
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    line = lines[0]
    assert "Traceback" not in line and "internal error" not in line, line
    for n in names:
        assert n in line, (n, line)
    if before is not None and root is not None:
        assert tree(root) == before, tree(root) ^ before
    return line
