"""``benchmarks.compiled build DIR`` starts from a clean DIR: ``pip install --target``
keeps extension modules an earlier build made, and a stale one shadows its source
(seen: an old ``base.*.so`` ran instead of the edited ``base.py``).  pip itself is
replaced by a recorder here: the real build is tests/speed/test_compiled.py (slow)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from benchmarks import compiled


@pytest.fixture
def no_pip(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0)
    monkeypatch.setattr(compiled.subprocess, "run", run)
    return calls


def test_an_earlier_build_is_removed_before_the_new_one(tmp_path: Path, no_pip: list[list[str]]) -> None:
    target = tmp_path / "build"
    compiled.build(target)
    assert (target / compiled.MARKER).is_file() and len(no_pip) == 1
    stale = target / "simulator" / "allocators" / "base.cpython-311-x86_64-linux-gnu.so"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old extension")
    compiled.build(target)
    assert not stale.exists()
    assert (target / compiled.MARKER).is_file() and len(no_pip) == 2


def test_a_directory_that_is_not_a_build_is_left_alone(tmp_path: Path, no_pip: list[list[str]]) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="not a vmsim compiled build"):
        compiled.build(target)
    assert (target / "notes.txt").read_text() == "keep me" and no_pip == []


def test_the_pure_twin_has_no_extension_modules_and_no_marker(tmp_path: Path,
                                                              no_pip: list[list[str]]) -> None:
    target = tmp_path / "build"
    compiled.build(target)
    (target / "simulator").mkdir()
    (target / "simulator" / "lock.py").write_text("# source\n")
    (target / "simulator" / "lock.cpython-311-x86_64-linux-gnu.so").write_bytes(b"ext")
    compiled.pure_copy(target, tmp_path / "pure")
    pure = tmp_path / "pure"
    assert (pure / "simulator" / "lock.py").read_text() == "# source\n"
    assert not list(pure.rglob("*.so")) and not (pure / compiled.MARKER).exists()
    assert (pure / "scenarios").is_dir()          # what ``check`` runs
