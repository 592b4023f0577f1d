"""This checkout against an earlier revision, measured in one run.

    python -m benchmarks.versus REV [--rounds 3]

Builds a git worktree of REV in a temporary directory and times the same
measurements in both trees, alternating (A B A B ...), in fresh processes,
by CPU time (``time.process_time``), so other load on the machine counts
little.  For the three generations both revisions have (busy-list = linux-4.19,
free-list = rfc-2018, augmented-tree = linux-5.2):

* engine: simulated ops per CPU-second, 1 caller and 8 contending callers
  (``fix_size_alloc_test``, 3 pages, on ``x86-server``);
* allocators: bare policy ops/s at 1,000 and 100,000 busy areas (the
  benchmark's churn: free the oldest area, allocate a new one).

Prints each figure for both trees (median of the rounds) and the ratio
HEAD / REV.  Prints figures only; judges nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ("busy-list", "free-list", "augmented-tree")

# Runs inside one tree (its own directory first on sys.path); prints JSON.
SNIPPET = r'''
import json, sys, time, dataclasses
from collections import deque
sys.path.insert(0, ".")
what, policy = sys.argv[1], sys.argv[2]
if what == "engine":
    ncallers, iterations = int(sys.argv[3]), int(sys.argv[4])
    from simulator.scenario import parse_scenario
    try:
        from simulator.runner import simulate
    except ImportError:
        from simulator.engine import simulate
    doc = {"name": "versus", "device": "x86-server", "cpus": ncallers, "allocators": [policy],
           "callers": [{"workload": "fix_size_alloc_test", "cpus": "all", "nr_pages": 3}],
           "stop": {"iterations": iterations}, "seeds": [1],
           "metrics": {"sample_interval": "1 ms", "keep_ops": False}}
    spec = parse_scenario(doc).run_specs()[0]
    t = time.process_time()
    r = simulate(spec)
    dt = time.process_time() - t
    print(json.dumps({"value": (r.summary["ops"]) / dt}))
else:
    n, ops = int(sys.argv[3]), int(sys.argv[4])
    from simulator.allocators import create
    P = 4096
    vs = 0xffffc90000000000
    a = create(policy, vstart=vs, vend=vs + (1 << 40))
    live = deque(a.alloc(2 * P).addr for _ in range(n))
    t = time.process_time()
    for _ in range(ops):
        a.free(live.popleft())
        live.append(a.alloc(2 * P).addr)
    dt = time.process_time() - t
    print(json.dumps({"value": 2 * ops / dt}))
'''

FIGURES = [("engine", p, "1 caller, ops/CPU-s", ["1", "4000"]) for p in POLICIES] + \
          [("engine", p, "8 callers, ops/CPU-s", ["8", "1000"]) for p in POLICIES] + \
          [("alloc", p, "policy ops/s at 1k areas", ["1000", "30000"]) for p in POLICIES] + \
          [("alloc", p, "policy ops/s at 100k areas", ["100000", "30000"]) for p in POLICIES]


def measure(tree: Path, what: str, policy: str, args: list[str]) -> float:
    out = subprocess.run([sys.executable, "-c", SNIPPET, what, policy, *args], cwd=tree,
                         capture_output=True, text=True, check=True, timeout=1800)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["value"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev", help="the earlier revision (a commit, tag or branch)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-f", str(base), args.rev], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            print(f"HEAD ({ROOT}) vs {args.rev}: median of {args.rounds} alternating rounds, CPU time")
            print(f"{'figure':<34} {'policy':<16} {'HEAD':>12} {args.rev[:10]:>12} {'ratio':>7}")
            for what, policy, label, extra in FIGURES:
                head, old = [], []
                for _ in range(args.rounds):
                    head.append(measure(ROOT, what, policy, extra))
                    old.append(measure(base, what, policy, extra))
                h, o = statistics.median(head), statistics.median(old)
                print(f"{label:<34} {policy:<16} {h:>12,.0f} {o:>12,.0f} {h / o:>7.2f}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT,
                           capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
