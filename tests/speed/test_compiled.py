"""The compiled hot path (mypyc, ``VMSIM_COMPILE=1``, setup.py) gives byte-identical
results to the pure-Python path on the shipped scenarios (reduced iterations).

It builds the compiled package into a temporary directory (a few minutes: slow)
and compares ``benchmarks.golden``'s hashes of the summary, ops, time-series,
histogram frames and run log of quickstart, generations (every generation),
contention-cpus (every point), seed-test1 and seed-test2 (one seed), run by a
subprocess that imports the compiled modules (checked) and by one that imports
the same build's sources without its extension modules (checked).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_compiled_and_pure_python_results_are_byte_identical(tmp_path: Path) -> None:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler: the compiled build is optional")
    if importlib.util.find_spec("mypyc") is None:
        pytest.skip("mypyc is not installed (pip install -e '.[lint]')")
    from benchmarks import compiled
    target = tmp_path / "compiled"
    compiled.build(target)
    assert list(target.glob("simulator/lock.*.so")), "the build compiled nothing"
    pure_dir = tmp_path / "pure"
    compiled.pure_copy(target, pure_dir)
    pure = compiled.golden(str(pure_dir), False, 60)
    comp = compiled.golden(str(target), True, 60)
    assert set(pure) == {"quickstart", "generations", "contention-cpus", "seed-test1", "seed-test2"}
    assert comp == pure
