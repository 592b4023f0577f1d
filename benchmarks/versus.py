"""This checkout against an earlier revision, measured in one run.

    python -m benchmarks.versus REV [--rounds 3] [--opcodes | --instructions | --cache]
                                    [--policies busy-list,free-list,augmented-tree]

Builds a git worktree of REV in a temporary directory and times the same
measurements in both trees, alternating (A B A B ...), in fresh processes,
by CPU time (``time.process_time``), so other load on the machine counts
little.  For the three generations both revisions have (busy-list = linux-4.19,
free-list = rfc-2018, augmented-tree = linux-5.2):

Each tree's own benchmark code measures, so the figures are those of
``python -m benchmarks.engine`` and ``python -m benchmarks.allocators``:

* engine: simulated ops per CPU-second of benchmarks/engine.py's loop
  (``make_spec``: vmalloc(3 pages) + touch + vfree on ``qemu-x86``, 20,000
  iterations split among the callers), 1 caller and 8 contending callers,
  each with per-op records (``keep_ops``, MetricsSpec's default) and with
  streaming statistics, no run-time self-checks;
* allocators: bare policy ops per CPU-second of benchmarks/allocators.py's
  churn (a 4-page and a 2-page area allocated and freed, every 16th pair also
  16 KiB- and 64 KiB-aligned ones) over 1,000 and 100,000 long-lived areas.

Prints each figure for both trees (median of the rounds) and the ratio
HEAD / REV of the medians; for CPU time also each round's own ratio (the two
trees measured back to back, which tree first alternating by round): its
median ("paired") and its range, the figure least moved by the machine's
speed drifting during the run; and the ratio of each tree's best round
("best": other load and a noisy neighbour only ever slow a run down, so the
fastest of several runs is the least disturbed one, as ``timeit`` advises).
From 6 rounds on, also a 95 % confidence interval of the paired median
(``median_ci95``, the sign test's, distribution-free): when it holds 1.00,
the run cannot tell the two trees apart by CPU time.
Each process first runs a short warm-up of the same shape, untimed: the
modules either tree imports lazily are then loaded (compiled from source
where no bytecode is cached, as under ``PYTHONDONTWRITEBYTECODE``), and
ops/CPU-s is the per-op speed, not the start-up.  Prints figures only; judges nothing.

``--opcodes``: instead of CPU time, count the CPython bytecodes executed per
simulated op (``sys.settrace`` with opcode events, over shorter runs): a
deterministic figure that no other load on the machine moves (this 2-core
machine's CPU-time figures vary by +-30 % between identical runs).  Bytecodes
are not all equally dear, so it is a proxy of CPU time, not a substitute.

``--instructions``: the machine instructions per simulated op, counted by
valgrind's cachegrind (``--cache-sim=no``) as the difference between a run
of 6,000 and a run of 2,000 iterations (or churn pairs), so imports and setup
cancel.  Deterministic like ``--opcodes``, and it counts what bytecodes miss:
the C work behind each bytecode (allocation, dict and list operations, the
garbage collector, array conversions).  It ignores cache and branch misses.

``--cache``: the same runs under cachegrind's cache and branch simulation
(``--cache-sim=yes --branch-sim=yes``): instructions, first-level instruction
and data cache misses, last-level misses and branch mispredicts per op, and
KCachegrind's cycle estimate of them (``cycle_estimate``).  What CPU time pays and
an instruction count does not see; a simulation of the first-level caches
(cachegrind sizes them from this machine's), not a measurement of them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ("busy-list", "free-list", "augmented-tree")

# Runs inside one tree (its own directory first on sys.path): that tree's own
# benchmark code measures (benchmarks/engine.py make_spec + simulate,
# benchmarks/allocators.py's churn); prints JSON.
SNIPPET = r"""
import gc, json, sys, time
sys.path.insert(0, ".")
what, policy = sys.argv[1], sys.argv[2]
opcodes = sys.argv[-1] == "opcodes"
counter = [0]

def tracer(frame, event, arg):
    frame.f_trace_opcodes = True
    if event == "opcode":
        counter[0] += 1
    return tracer

def timed(fn):
    # CPU seconds of fn(), or with opcodes the bytecodes it executes
    gc.collect()
    if opcodes:
        counter[0] = 0
        sys.settrace(tracer)
        fn()
        sys.settrace(None)
        return counter[0]
    t = time.process_time()
    fn()
    return time.process_time() - t

if what == "engine":
    import dataclasses
    import benchmarks.engine as be
    from simulator.spec import MetricsSpec
    ncallers, iterations, keep = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "records"

    def make(iters):
        spec = be.make_spec(policy, ncallers, max(1, iters // ncallers))
        # the same metrics in both trees: per-op records (the default) or streaming
        # statistics, and no run-time self-checks (the earlier tree has none)
        kw = {"sample_interval_ns": 1_000_000, "keep_ops": keep}
        if "check_every" in {f.name for f in dataclasses.fields(MetricsSpec)}:
            kw["check_every"] = 0
        return dataclasses.replace(spec, metrics=MetricsSpec(**kw))
    spec = make(iterations)
    # imports and caches warm: the first run in a process imports the modules
    # either tree loads lazily (compiled from source where no bytecode is cached,
    # as under PYTHONDONTWRITEBYTECODE) and warms pandas; not the per-op speed
    be.simulate(spec if opcodes else make(8 * ncallers))
    out = []
    dt = timed(lambda: out.append(be.simulate(spec)))
    ops = out[0].summary["ops"]
else:
    import benchmarks.allocators as ba
    n, pairs = int(sys.argv[3]), int(sys.argv[4])
    a = ba.create(policy, ba.VSTART, ba.VEND, initial_busy=ba._long_lived(n))
    PAGE = ba.PAGE

    def churn():                                  # benchmarks.allocators.ops_per_second's pattern
        for i in range(pairs):
            r1 = a.alloc(4 * PAGE)
            r2 = a.alloc(2 * PAGE)
            a.free(r1.addr)
            a.free(r2.addr)
            if i % 16 == 15:
                r3 = a.alloc(5 * PAGE, 16 * 1024)
                r4 = a.alloc(17 * PAGE, 64 * 1024)
                a.free(r3.addr)
                a.free(r4.addr)
    dt = timed(churn)
    ops = 4 * pairs + 4 * (pairs // 16)
print(json.dumps({"value": dt / ops if opcodes else ops / dt, "ops": ops}))
"""

#: (what, policy, label, args): benchmarks.engine's defaults (20,000 iterations,
#: split among the callers), with per-op records (MetricsSpec's default, as the
#: earlier benchmark ran) and with streaming statistics (keep_ops false, as
#: benchmarks.engine runs now); benchmarks.allocators' churn at 1,000 and
#: 100,000 long-lived areas
FIGURES = [("engine", p, f"engine, {n} caller{'s' if n > 1 else ''}, {m}, ops/CPU-s",
            [str(n), "20000", m]) for m in ("records", "stats") for n in (1, 8) for p in POLICIES] + \
          [("alloc", p, f"allocators at {n // 1000}k areas, ops/CPU-s", [str(n), "20000"])
           for n in (1000, 100000) for p in POLICIES]

#: --opcodes: shorter runs (tracing is ~50x slower), the same shapes
OPCODE_ARGS = {"20000": "4000"}


#: the measuring processes running now (what a SIGTERM kills, see _worktree)
_CHILDREN: set[subprocess.Popen[str]] = set()


def _run(cmd: list[str], cwd: Path, timeout: float,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """subprocess.run(cmd, capture_output, text, check), its process killable by a stop."""
    with subprocess.Popen(cmd, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as p:
        try:                                    # (a stop from here on kills p)
            _CHILDREN.add(p)
            out, err = p.communicate(timeout=timeout)
        except BaseException:
            p.kill()
            raise
        finally:
            _CHILDREN.discard(p)
    if p.returncode:
        raise subprocess.CalledProcessError(p.returncode, cmd, out, err)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def median_ci95(xs: list[float]) -> tuple[float, float] | None:
    """A distribution-free confidence interval of at least 95 % for the median
    of ``xs`` (the sign test's: order statistics ``x_(k)`` and ``x_(n+1-k)``
    with the largest ``k`` such that ``P(Binomial(n, 1/2) < k) <= 2.5 %``), or
    None below 6 values, where even ``[min, max]`` covers less (5 values:
    93.75 %).  It assumes only that the rounds are independent draws of one
    distribution, nothing of its shape: for the paired ratios of the CPU-time
    rounds, an interval that holds 1 means this run cannot tell the trees apart."""
    n = len(xs)
    xs = sorted(xs)
    k, below = 0, 0                     # below = P(Binomial(n, 1/2) < k + 1) * 2^n
    while True:
        below += math.comb(n, k)
        if 2 * below > 0.05 * 2 ** n:   # k + 1 would cover less than 95 %
            break
        k += 1
    if k == 0:
        return None
    return xs[k - 1], xs[n - k]


def measure(tree: Path, what: str, policy: str, args: list[str], opcodes: bool = False) -> float:
    if opcodes:
        args = [args[0]] + [OPCODE_ARGS.get(a, a) for a in args[1:]] + ["opcodes"]
    out = _run([sys.executable, "-c", SNIPPET, what, policy, *args], tree, timeout=1800)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["value"])


#: --instructions: no BLAS worker threads (numpy's OpenBLAS spins them after
#: each call, and valgrind counts their instructions too)
_ONE_THREAD = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONHASHSEED="0")   # and one string hash: dict probes count the same

#: --instructions: the two run lengths whose difference is measured
INSTRUCTION_ARGS = ({"20000": "2000"}, {"20000": "6000"})


#: --cache: cachegrind's per-op counters printed (the summary lines it prints)
CACHE_COUNTERS = (("I refs", "instructions"), ("I1 misses", "I1 misses"),
                  ("D1 misses", "D1 misses"), ("LLi misses", "LL instr. misses"),
                  ("LLd misses", "LL data misses"), ("Mispredicts", "branch mispredicts"))


def cycle_estimate(c: dict[str, float]) -> float:
    """KCachegrind's "Cycle Estimation" of cachegrind's counters: CEst = Ir +
    10 Bm + 10 L1m + 100 LLm (its author's formula, J. Weidendorfer on the
    LibreOffice list, 5 December 2012; his caveat: a rough guide, check
    against real time).  Deterministic, and it prices what an instruction
    count does not see: first-level misses, last-level misses, mispredicts."""
    return (c["I refs"] + 10 * (c["I1 misses"] + c["D1 misses"] + c["Mispredicts"])
            + 100 * (c["LLi misses"] + c["LLd misses"]))


def _counters(tree: Path, what: str, policy: str, args: list[str],
              cache: bool = False) -> tuple[dict[str, int], int]:
    """(cachegrind's counters, simulated ops) of one run: instructions, and with
    ``cache`` also its simulated I1, D1 and last-level misses and branch mispredicts."""
    sim = ["--cache-sim=yes", "--branch-sim=yes"] if cache else ["--cache-sim=no"]
    with tempfile.NamedTemporaryFile() as out_file:
        out = _run(["valgrind", "--tool=cachegrind", *sim, f"--cachegrind-out-file={out_file.name}",
                    sys.executable, "-c", SNIPPET, what, policy, *args],
                   tree, timeout=3600, env=_ONE_THREAD)
    ops = int(json.loads(out.stdout.strip().splitlines()[-1])["ops"])
    return parse_cachegrind(out.stderr), ops


def parse_cachegrind(stderr: str) -> dict[str, int]:
    """The CACHE_COUNTERS totals in cachegrind's summary (its stderr):
    ``==PID== I1  misses:  1,091`` and ``==PID== D1  misses: 1,568 (1,224 rd + 344 wr)``
    give the total; counters the run did not simulate are absent."""
    found: dict[str, int] = {}
    for line in stderr.splitlines():
        text = " ".join(line.split("==", 2)[-1].split())
        for key, _ in CACHE_COUNTERS:
            if text.startswith(key + ":"):
                found[key] = int(text.split(":")[1].split()[0].replace(",", ""))
    return found


def counters_per_op(tree: Path, what: str, policy: str, args: list[str],
                    cache: bool = False) -> dict[str, float]:
    """cachegrind's counters per simulated op: the difference of two run
    lengths (imports, setup and teardown cancel); deterministic."""
    (c0, n0), (c1, n1) = (_counters(tree, what, policy, [m.get(a, a) for a in args], cache)
                          for m in INSTRUCTION_ARGS)
    return {k: (c1[k] - c0[k]) / (n1 - n0) for k in c0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev", help="the earlier revision (a commit, tag or branch)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--opcodes", action="store_true",
                    help="bytecodes executed per op instead of CPU time (deterministic; one round)")
    ap.add_argument("--instructions", action="store_true",
                    help="machine instructions per op, counted by valgrind (deterministic; one "
                    "round; needs valgrind; about 10 minutes on 2 cores)")
    ap.add_argument("--cache", action="store_true",
                    help="with valgrind's cache and branch simulation: instructions, I1, D1 and "
                    "last-level misses, branch mispredicts and their cycle estimate per op "
                    "(deterministic; about 30 minutes)")
    ap.add_argument("--policies", default=",".join(POLICIES),
                    help=f"the figures of these policies only (comma-separated; default: "
                    f"{','.join(POLICIES)})")
    args = ap.parse_args(argv)
    wanted = args.policies.split(",")
    unknown = [p for p in wanted if p not in POLICIES]
    if unknown:
        print(f"versus: unknown policy {unknown[0]!r} in --policies; accepted: "
              f"{', '.join(POLICIES)}", file=sys.stderr)
        return 2
    figures = [f for f in FIGURES if f[1] in wanted]
    if args.instructions or args.cache:
        if shutil.which("valgrind") is None:
            print(f"versus: --{'cache' if args.cache else 'instructions'} needs valgrind "
                  "(not found on PATH)", file=sys.stderr)
            return 2
        return _main_valgrind(args.rev, figures, cache=args.cache)
    if args.opcodes:
        args.rounds = 1
    with _worktree(args.rev) as base:
        if args.opcodes:
            print(f"HEAD ({ROOT}) vs {args.rev}: CPython bytecodes executed per op "
                  "(lower is faster; ratio REV / HEAD, so > 1 means HEAD runs fewer)")
        else:
            print(f"HEAD ({ROOT}) vs {args.rev}: median of {args.rounds} alternating rounds, CPU time")
        paired_hdr = "" if args.opcodes else (f" {'paired':>7} {'range':>11} {'best':>5}"
                                              f" {'95% CI':>11}")
        print(f"{'figure':<44} {'policy':<16} {'HEAD':>12} {args.rev[:10]:>12} {'ratio':>7}"
              + paired_hdr)
        for what, policy, label, extra in figures:
            head: list[float] = []
            old: list[float] = []
            for k in range(args.rounds):
                # alternate which tree goes first (a drift of the machine's
                # speed within a round then favours neither)
                for tree in ((ROOT, base) if k % 2 == 0 else (base, ROOT)):
                    (head if tree == ROOT else old).append(
                        measure(tree, what, policy, extra, args.opcodes))
            h, o = statistics.median(head), statistics.median(old)
            if args.opcodes:
                label = label.replace("ops/CPU-s", "bytecodes/op").replace("ops/s", "bytecodes/op")
                print(f"{label:<44} {policy:<16} {h:>12,.0f} {o:>12,.0f} {o / h:>7.2f}")
                continue
            # each round's HEAD / REV, measured back to back: its median and range
            pairs = sorted(a / b for a, b in zip(head, old))
            ci = median_ci95(pairs)
            print(f"{label:<44} {policy:<16} {h:>12,.0f} {o:>12,.0f} {h / o:>7.2f} "
                  f"{statistics.median(pairs):>7.2f} {pairs[0]:>5.2f}-{pairs[-1]:<5.2f} "
                  f"{max(head) / max(old):>5.2f} "
                  + (f"{ci[0]:>5.2f}-{ci[1]:<5.2f}" if ci else f"{'-':>11}"), flush=True)
    return 0


@contextmanager
def _worktree(rev: str) -> Iterator[Path]:
    """A git worktree of ``rev`` in a temporary directory, removed afterwards,
    also when the run is stopped by SIGTERM or SIGHUP (raised here as SystemExit,
    so the ``finally`` runs; Ctrl-C's KeyboardInterrupt does already)."""
    def stop(signum: int, _frame: object) -> None:
        for p in list(_CHILDREN):               # the measuring processes first
            p.kill()
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        try:                # (a stop during the add leaves a locked, half-made worktree)
            subprocess.run(["git", "worktree", "add", "--detach", "-f", str(base), rev], cwd=ROOT,
                           check=True, capture_output=True)
            yield base
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", "--force", str(base)],
                           cwd=ROOT, capture_output=True)
            subprocess.run(["git", "worktree", "prune"], cwd=ROOT, capture_output=True)


def _main_valgrind(rev: str, figures: list[tuple[str, str, str, list[str]]], cache: bool) -> int:
    """--instructions (``cache`` False) or --cache: every figure in both trees
    under cachegrind, two runs at a time (2 processes)."""
    with _worktree(rev) as base:
        if cache:
            print(f"HEAD ({ROOT}) vs {rev}: per op, valgrind cachegrind with its cache and branch "
                  "simulation (first-level caches of this machine's sizes, runs of 6,000 less "
                  "runs of 2,000); ratio REV / HEAD, so > 1 means HEAD has fewer")
            print(f"{'figure':<44} {'policy':<16} {'counter':<19} {'HEAD':>10} {rev[:10]:>10} "
                  f"{'ratio':>6}")
        else:
            print(f"HEAD ({ROOT}) vs {rev}: machine instructions per op (valgrind cachegrind, "
                  "runs of 6,000 less runs of 2,000; lower is faster; ratio REV / HEAD, so > 1 "
                  "means HEAD runs fewer)")
            print(f"{'figure':<44} {'policy':<16} {'HEAD':>12} {rev[:10]:>12} {'ratio':>7}")
        pool = ThreadPoolExecutor(2)
        try:
            futs = [(label, policy, pool.submit(counters_per_op, ROOT, what, policy, extra, cache),
                     pool.submit(counters_per_op, base, what, policy, extra, cache))
                    for what, policy, label, extra in figures]
            for label, policy, fh, fo in futs:
                h, o = fh.result(), fo.result()
                if not cache:
                    label = label.replace("ops/CPU-s", "instructions/op")
                    hi, oi = h["I refs"], o["I refs"]
                    print(f"{label:<44} {policy:<16} {hi:>12,.0f} {oi:>12,.0f} {oi / hi:>7.2f}",
                          flush=True)
                    continue
                label = label.replace(", ops/CPU-s", "")
                h["CEst"], o["CEst"] = cycle_estimate(h), cycle_estimate(o)
                for key, name in (*CACHE_COUNTERS, ("CEst", "cycle estimate")):
                    # (below one per op a difference of two runs is noise: no ratio)
                    ratio = f"{o[key] / h[key]:>6.2f}" if min(h[key], o[key]) >= 1 else f"{'-':>6}"
                    print(f"{label:<44} {policy:<16} {name:<19} {h[key]:>10,.0f} {o[key]:>10,.0f} "
                          f"{ratio}", flush=True)
        finally:                                 # a stop: queued runs never start
            pool.shutdown(wait=True, cancel_futures=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
