"""Issue 13 point 3: a non-editable install (``pip install <repo>``, a wheel built and
installed into a fresh virtual environment) carries the shipped device profiles:
``vmsim list`` shows them and a short scenario runs, far from the source tree.

The virtual environment sees the test environment's site-packages (a ``.pth`` file:
numpy, pandas, ... are not downloaded again; the editable vmsim of the test
environment is not activated by it) but gets its own copy of vmsim
(``--ignore-installed --no-deps``); the test checks that the ``simulator`` it
imports is that copy, not the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import RANDOM_MEASURED_CPU0, REPO, scenario_text

SCENARIO = scenario_text("installed", RANDOM_MEASURED_CPU0, cpus=None, allocators="busy-list",
                         rest="stop:\n  iterations: 50\n")


@pytest.mark.slow
def test_non_editable_install_lists_devices_and_runs(tmp_path: Path) -> None:
    src = tmp_path / "src"                  # a copy: the build must not write into the checkout
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "results", "__pycache__", "build", "*.egg-info", ".pytest_cache",
        ".hypothesis", "notebooks"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py, vmsim = venv / "bin" / "python", venv / "bin" / "vmsim"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (Path(purelib) / "_test_env_packages.pth").write_text("".join(f"{p}\n" for p in ours))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    pip = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--ignore-installed", "--no-deps",
                          str(src)], capture_output=True, text=True, env=env, timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([str(py), "-c", "import simulator, simulator.devices as d; "
                            "print(simulator.__file__); print(d.DEVICES_DIR)"],
                           capture_output=True, text=True, cwd=work, env=env, timeout=120)
    assert where.returncode == 0, where.stderr
    module, devices_dir = where.stdout.split()
    assert Path(module).is_relative_to(venv) and Path(devices_dir).is_relative_to(venv)
    assert (Path(devices_dir) / "qemu-x86.yaml").is_file()
    listing = subprocess.run([str(vmsim), "list"], capture_output=True, text=True, cwd=work, env=env,
                             timeout=120)
    assert listing.returncode == 0, listing.stderr
    devices = listing.stdout.split("workloads:")[0]
    for name in ("qemu-x86", "embedded-arm32", "embedded-arm64", "x86-server"):
        assert name in devices
    (work / "s.yaml").write_text(SCENARIO)
    run = subprocess.run([str(vmsim), "run", "s.yaml", "--out", "r", "--quiet"], capture_output=True,
                         text=True, cwd=work, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    assert (work / "r" / "summary.csv").is_file() and (work / "r" / "report.md").is_file()
