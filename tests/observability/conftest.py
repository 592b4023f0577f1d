"""Helpers of the observability tests: run ``vmsim`` as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import REPO


def vmsim(*args: str, cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    """``vmsim ARGS`` in a subprocess (the console entry point's code path)."""
    e = dict(os.environ, PYTHONPATH=str(REPO))
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", "import sys; from simulator.cli import main; "
                           "sys.exit(main())", *args], cwd=cwd, env=e, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
