"""Golden hashes of the shipped scenarios (reduced iterations): the engine's
byte-identity check for speed work (pure Python vs compiled, before vs after).

    python -m benchmarks.golden [--iterations N] [--out FILE] [--compare FILE]

Runs scenarios/quickstart.yaml, generations.yaml (plus linux-6.9 on its
workload), contention-cpus.yaml (every sweep point), seed-test1.yaml and
seed-test2.yaml (one seed) through ``simulator.runner.run_specs`` and prints,
per scenario, the SHA-256 of the summary, ops, time-series and histogram
frames written as CSV.  ``--compare`` exits 1 when a hash differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("quickstart", "generations", "contention-cpus", "seed-test1", "seed-test2")


def _digest(df: Any) -> str:
    if df is None or not isinstance(df, pd.DataFrame):
        df = pd.DataFrame()
    return hashlib.sha256(df.to_csv(index=False, float_format="%r").encode()).hexdigest()[:16]


def scenario_specs(name: str, iterations: int, scenarios: Path | None = None) -> list[Any]:
    from simulator.scenario import load_scenario
    sc = load_scenario((scenarios or ROOT / "scenarios") / f"{name}.yaml")
    seed = sc.config.seeds[0] if name.startswith("seed-") else None
    specs = list(sc.run_specs(seed=seed, iterations=iterations))
    if name == "generations":
        from simulator import kernels
        have = {s.allocator for s in specs}
        extra = [g for g in kernels.names() if g not in have]
        specs += [replace(specs[0], allocator=g) for g in extra]
    return specs


def hashes(iterations: int = 300, names: tuple[str, ...] = SCENARIOS,
           scenarios: Path | None = None) -> dict[str, dict[str, str]]:
    """{scenario: {frame: hash}} of a run of every scenario in ``names`` (read from
    ``scenarios``, default this checkout's scenarios/)."""
    from simulator.runner import run_specs
    out: dict[str, dict[str, str]] = {}
    for name in names:
        res = run_specs(scenario_specs(name, iterations, scenarios))
        out[name] = {"summary": _digest(res.summary), "ops": _digest(res.ops),
                     "timeseries": _digest(res.timeseries), "histograms": _digest(res.histograms),
                     "log": hashlib.sha256("\n".join(res.log).encode()).hexdigest()[:16]}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--only", default=",".join(SCENARIOS))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--compare", type=Path)
    args = ap.parse_args(argv)
    got = hashes(args.iterations, tuple(args.only.split(",")))
    print(json.dumps(got, indent=1))
    if args.out:
        args.out.write_text(json.dumps(got, indent=1) + "\n")
    if args.compare:
        want = json.loads(args.compare.read_text())
        bad = [f"{s}.{k}" for s in got for k in got[s] if want.get(s, {}).get(k) != got[s][k]]
        print("IDENTICAL" if not bad else f"DIFFERENT: {', '.join(bad)}")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
