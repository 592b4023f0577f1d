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

#: The project's shared data (kernel notes, the seed RFC, real /proc/vmallocinfo
#: dumps): ../shared relative to the checkout, wherever the checkout is.
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file under ../shared; the calling test is skipped (with the reason)
    when the checkout has no ../shared beside it."""
    import pytest

    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: these tests need ../shared beside the checkout ({REPO})")
    return path
