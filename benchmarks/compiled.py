"""Build the compiled (mypyc) vmsim into a directory and check it against pure Python.

    python -m benchmarks.compiled build DIR        # VMSIM_COMPILE=1 pip install --target DIR .
    python -m benchmarks.compiled check DIR [--iterations N]

``check`` runs ``benchmarks.golden`` twice, with ``PYTHONPATH=DIR`` (compiled) and on
a copy of DIR without its extension modules (the same sources, pure Python), and
exits 1 unless every hash is identical.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


MARKER = ".vmsim-compiled"


def build(target: Path) -> None:
    """Compile and install the package (no dependencies) into ``target``, with a copy
    of the scenarios it was built with (``target/scenarios``: what ``check`` runs).

    ``target`` must be new, empty, or an earlier build (its marker file): an earlier
    build is removed first, since ``pip install --target`` keeps extension modules
    that the new build no longer makes, and they would shadow their sources."""
    if target.exists() and any(target.iterdir()):
        if not (target / MARKER).is_file():
            raise SystemExit(f"{target}: not empty and not a vmsim compiled build "
                             f"(no {MARKER}); give a new or empty directory")
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)
    (target / MARKER).write_text("python -m benchmarks.compiled build\n")
    env = dict(os.environ, VMSIM_COMPILE="1")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation",
                    "--no-deps", "--upgrade", "--target", str(target), str(ROOT)],
                   env=env, check=True)
    shutil.copytree(ROOT / "scenarios", target / "scenarios", dirs_exist_ok=True)


def pure_copy(target: Path, dest: Path) -> None:
    """The build's own sources without its extension modules: the pure-Python
    twin of the compiled build (the same code, whatever the checkout holds now)."""
    shutil.copytree(target, dest, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", MARKER))


def golden(pythonpath: str, compiled: bool, iterations: int) -> dict[str, dict[str, str]]:
    """benchmarks.golden's hashes in a subprocess with ``pythonpath`` first on the
    path; it fails unless the simulator it imports is compiled iff ``compiled``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([pythonpath, str(ROOT)]))
    code = ("import json, simulator.lock as m; from pathlib import Path; from benchmarks import golden; "
            f"assert m.__file__.startswith({pythonpath!r}), m.__file__; "
            f"assert m.__file__.endswith('.py') != {compiled!r}, m.__file__; "
            f"print(json.dumps(golden.hashes({iterations}, scenarios=Path({pythonpath!r}) / 'scenarios')))")
    # -P: no current directory on sys.path, so PYTHONPATH decides which simulator runs
    out = subprocess.run([sys.executable, "-P", "-c", code], env=env, cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"golden run on {pythonpath} failed:\n{out.stderr[-3000:]}")
    result: dict[str, dict[str, str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def check(target: Path, iterations: int) -> list[str]:
    """The frames (``scenario.frame``) whose hashes differ between the compiled build in
    ``target`` and its pure-Python twin."""
    target = target.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        pure_dir = Path(tmp) / "pure"
        pure_copy(target, pure_dir)
        pure = golden(str(pure_dir), False, iterations)
    comp = golden(str(target), True, iterations)
    return [f"{s}.{k}" for s in pure for k in pure[s] if comp.get(s, {}).get(k) != pure[s][k]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("action", choices=("build", "check"))
    ap.add_argument("dir", type=Path)
    ap.add_argument("--iterations", type=int, default=300)
    args = ap.parse_args(argv)
    if args.action == "build":
        build(args.dir)
        return 0
    bad = check(args.dir, args.iterations)
    print("IDENTICAL" if not bad else f"DIFFERENT: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
