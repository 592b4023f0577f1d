"""Engine speed: simulated vmalloc/vfree operations per CPU-second, every generation.

    python -m benchmarks.engine [--iterations N] [--generations a,b,...] [--big N] [--small N]
                                [--repeats N] [--compiled DIR] [--json]

Figures (CPU time of this process, ``time.process_time``, so other load on the
machine does not count):

- bare SimPy: timeouts per CPU-second of 1 process and of 8 processes yielding
  timeouts in a loop, measured in the same run (the yardstick of the ratios);
- per generation (``simulator.kernels.names()``), on the qemu-x86 profile, a
  vmalloc(3 pages) + touch + vfree loop: simulated ops per CPU-second for 1
  caller and for 8 contending callers (8 CPUs), and each one's ratio to bare
  SimPy's events per CPU-second (1 and 8 processes);
- scaling: ops per CPU-second of the 1-caller loop with ``--big`` (10^6) busy
  areas at boot against ``--small`` (10^3) (issue 12 target: >= 0.5).  The boot
  areas are built before the clock starts.

Each figure is the best of ``--repeats`` runs (3), each on a freshly built
policy: other load and a noisy neighbour only ever slow a run, and the scaling
ratio of two single short runs moved by more than its target's margin.

``--compiled DIR``: also run the same figures in a subprocess whose
``PYTHONPATH`` is DIR, a compiled build (``python -m benchmarks.compiled build DIR``),
and print both paths side by side.  Targets (issue 12): >= 300,000 ops/CPU-s
for 1 caller, >= 150,000 for 8.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Generator
from typing import Any

import simpy

import workloads
from simulator import kernels
from simulator.devices import load_device
from simulator.runner import make_policy, simulate
from simulator.spec import AddressSpace, CallerSpec, MetricsSpec, RunSpec
from workloads.base import Workload, WorkloadParams

TARGETS = {1: 300_000, 8: 150_000}
SCALING_TARGET = 0.5
#: each figure the best of this many runs (measure() and the command alike)
REPEATS = 3


class _Params(WorkloadParams):
    pages: int = 3


def _loop(caller: Any, p: _Params) -> Generator[Any, Any, None]:
    caller.measure_start()
    size = p.pages * caller.page_size
    while caller.running():
        addr = yield from caller.vmalloc(size)
        if addr is not None:
            yield from caller.touch(addr)
            yield from caller.vfree(addr)
        caller.iteration_done()


if "_bench_fix_size" not in workloads.REGISTRY:
    workloads.register(Workload("_bench_fix_size", "benchmark: fix_size loop", _Params, _loop))


def compiled_path() -> bool:
    """True when ``simulator`` runs compiled (mypyc extension modules: setup.py)."""
    import simulator.lock as m
    return not (m.__file__ or "").endswith(".py")


def make_spec(generation: str, callers: int, iterations: int, boot_areas: int = 0) -> RunSpec:
    """The loop on ``callers`` CPUs; ``boot_areas`` 1-page busy areas (a page apart) at boot."""
    dev = load_device("qemu-x86")
    a = dev["address_space"]
    ps = a["page_size"]
    start = a["vmalloc_start"]
    busy = tuple((start + 2 * i * ps, start + 2 * i * ps + ps) for i in range(boot_areas))
    asp = AddressSpace(a["vstart"], a["vend"], a["vmalloc_start"], a["vmalloc_end"],
                       a["modules_start"], a["modules_end"], ps, a["word_bits"], initial_busy=busy)
    return RunSpec(scenario="bench-engine", allocator=generation, seed=1, cpus=max(callers, 1),
                   device="qemu-x86", cost=dev["cost"], address_space=asp,
                   callers=tuple(CallerSpec("_bench_fix_size", c) for c in range(callers)),
                   iterations=iterations,
                   metrics=MetricsSpec(sample_interval_ns=1_000_000, keep_ops=False, check_every=0))


def engine_rate(generation: str, callers: int, iterations: int, boot_areas: int = 0) -> float:
    """Simulated ops per CPU-second (the policy and its boot areas built first)."""
    spec = make_spec(generation, callers, iterations, boot_areas)
    policy = make_policy(spec)
    kernels.kernel_class(generation)  # its module imported (compiled, without cached bytecode) untimed
    t = time.process_time()
    res = simulate(spec, allocator_factory=lambda _s: policy)
    cpu = time.process_time() - t
    return float(res.summary["ops"]) / cpu


def bare_simpy_rate(processes: int, timeouts: int) -> float:
    """Timeouts per CPU-second of ``processes`` processes yielding timeouts in a loop."""
    env = simpy.Environment()
    per = timeouts // processes

    def proc(env: simpy.Environment, d: float) -> Generator[Any, Any, None]:
        for _ in range(per):
            yield env.timeout(d)

    for i in range(processes):
        env.process(proc(env, 1.0 + i * 0.1))
    t = time.process_time()
    env.run()
    return per * processes / (time.process_time() - t)


def measure(generations: list[str], iterations: int, big: int, small: int,
            repeats: int = REPEATS) -> dict[str, Any]:
    """Every figure of this path (see the module docstring), as plain data; each
    the best of ``repeats`` runs, each run on a freshly built policy."""
    out: dict[str, Any] = {"compiled": compiled_path(), "repeats": repeats,
                           "bare": {str(n): max(bare_simpy_rate(n, 300_000) for _ in range(repeats))
                                    for n in (1, 8)}}
    for g in generations:
        row: dict[str, float] = {}
        for callers in (1, 8):
            row[f"ops_{callers}"] = max(engine_rate(g, callers, max(1, iterations // callers))
                                        for _ in range(repeats))
        scale_iters = max(1, iterations // 4)
        row["ops_small"] = max(engine_rate(g, 1, scale_iters, small) for _ in range(repeats))
        row["ops_big"] = max(engine_rate(g, 1, scale_iters, big) for _ in range(repeats))
        row["scaling"] = row["ops_big"] / row["ops_small"]
        out[g] = row
    return out


def report(figs: dict[str, Any], generations: list[str], big: int, small: int) -> list[str]:
    b1, b8 = figs["bare"]["1"], figs["bare"]["8"]
    lines = [f"path: {'compiled (mypyc)' if figs['compiled'] else 'pure Python'}; each figure "
             f"the best of {figs.get('repeats', 1)} run(s)",
             f"bare SimPy: 1 process {b1:,.0f} events/CPU-s; 8 processes {b8:,.0f} events/CPU-s",
             f"{'generation':<12}{'1 caller':>11}{'vs bare':>8}{'8 callers':>11}{'vs bare':>8}"
             f"{f'@{small:,}':>11}{f'@{big:,}':>11}{'ratio':>7}{'vs bare':>8}"]
    for g in generations:
        r = figs[g]
        flags = "" if r["ops_1"] >= TARGETS[1] else " 1:BELOW"
        flags += "" if r["ops_8"] >= TARGETS[8] else " 8:BELOW"
        flags += "" if r["scaling"] >= SCALING_TARGET else " scale:BELOW"
        lines.append(f"{g:<12}{r['ops_1']:>11,.0f}{r['ops_1'] / b1:>8.3f}{r['ops_8']:>11,.0f}"
                     f"{r['ops_8'] / b8:>8.3f}{r['ops_small']:>11,.0f}{r['ops_big']:>11,.0f}"
                     f"{r['scaling']:>7.2f}{r['ops_big'] / b1:>8.3f}{flags}")
    lines.append(f"targets: 1 caller >= {TARGETS[1]:,} ops/CPU-s, 8 callers >= {TARGETS[8]:,}, "
                 f"ratio @{big:,} / @{small:,} >= {SCALING_TARGET}; 'vs bare': ops per bare SimPy event")
    return lines


def run_compiled(build_dir: str, argv: list[str]) -> dict[str, Any]:
    """The figures of the compiled build in ``build_dir`` (a subprocess)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.abspath(build_dir), root]))
    out = subprocess.run([sys.executable, "-P", "-m", "benchmarks.engine", "--json", *argv],
                         env=env, check=True, capture_output=True, text=True)
    figs: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--iterations", type=int, default=20_000, help="loop iterations (1 caller; "
                    "8 callers share them; the scaling runs a quarter)")
    ap.add_argument("--generations", default=",".join(kernels.names()))
    ap.add_argument("--big", type=int, default=1_000_000, help="busy areas at boot, large case")
    ap.add_argument("--small", type=int, default=1_000, help="busy areas at boot, small case")
    ap.add_argument("--repeats", type=int, default=REPEATS, help="each figure the best of this many "
                    f"runs (load on the machine only slows a run; default {REPEATS})")
    ap.add_argument("--compiled", metavar="DIR", help="also measure the compiled build in DIR")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        print(f"engine: --repeats must be >= 1 (got {args.repeats})", file=sys.stderr)
        sys.exit(2)
    gens = args.generations.split(",")
    own = ["--iterations", str(args.iterations), "--generations", args.generations,
           "--big", str(args.big), "--small", str(args.small), "--repeats", str(args.repeats)]
    figs = measure(gens, args.iterations, args.big, args.small, args.repeats)
    if args.json:
        print(json.dumps(figs))
        return
    print("\n".join(report(figs, gens, args.big, args.small)))
    if args.compiled:
        comp = run_compiled(args.compiled, own)
        print()
        print("\n".join(report(comp, gens, args.big, args.small)))
        print()
        print("compiled / pure (ops per CPU-second):")
        for g in gens:
            print(f"{g:<12}" + "".join(f"{k[4:]:>7} {comp[g][k] / figs[g][k]:5.2f}x"
                                       for k in ("ops_1", "ops_8", "ops_small", "ops_big")))


if __name__ == "__main__":
    main()
