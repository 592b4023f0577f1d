"""``vmsim compare-dmesg LOG --scenario FILE``: a board's test_vmalloc results
beside the simulated ones, test by test, without fitting anything.

The board's ``Summary: <test> passed: N failed: N repeat: N loops: N avg: N usec``
lines (``simulator.calibrate.parse_dmesg``) are lined up with the ``Summary:``
lines the scenario's test_vmalloc callers print in the simulation (one set per
allocator and seed).  ``avg`` is the time of one repetition of a test (all its
loops), so the comparison is per loop: ``avg * 1000 / loops`` ns, which stays
meaningful when the scenario runs fewer loops than the board did.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .calibrate import SUMMARY_RE, Summary, parse_dmesg

_RUN_PREFIX = re.compile(r"^\[(?P<allocator>\S+) seed=(?P<seed>\d+)\]\s*")


@dataclass(frozen=True)
class Row:
    test: str
    board: Summary | None
    simulated: dict[str, list[Summary]]          # allocator -> one Summary per caller and seed


def simulated_summaries(log: list[str]) -> dict[str, list[tuple[int, Summary]]]:
    """allocator -> (seed, Summary) of every ``Summary:`` line of a run log."""
    out: dict[str, list[tuple[int, Summary]]] = defaultdict(list)
    for no, line in enumerate(log, 1):
        m = _RUN_PREFIX.match(line)
        s = SUMMARY_RE.search(line)
        if not m or not s:
            continue
        out[m["allocator"]].append((int(m["seed"]), Summary(s["name"], int(s["passed"]), int(s["failed"]),
                                                             int(s["repeat"]), int(s["loops"]),
                                                             int(s["avg"]), no)))
    return out


#: tests whose repetition does not run test_loop_count loops (it tries each
#: alignment 1 << 0 .. 1 << (BITS_PER_LONG - 1) once): compared per repetition
NO_LOOP_TESTS = ("align_shift_alloc_test",)


def per_loop_ns(s: Summary) -> float:
    """ns per loop (per repetition for the tests that do not loop)."""
    if s.name in NO_LOOP_TESTS:
        return s.avg_usec * 1000.0
    return s.avg_usec * 1000.0 / s.loops if s.loops else math.nan


def line_up(board: list[Summary], log: list[str], allocators: list[str]) -> list[Row]:
    """One row per test, in the board's order, then tests only the simulation ran."""
    sim = simulated_summaries(log)
    tests = list(dict.fromkeys([b.name for b in board]
                               + [s.name for a in allocators for _, s in sim.get(a, [])]))
    by_board = {}
    for b in board:                  # the last line of a test wins (a log of several loads)
        by_board[b.name] = b
    rows = []
    for t in tests:
        rows.append(Row(t, by_board.get(t),
                        {a: [s for _, s in sim.get(a, []) if s.name == t] for a in allocators}))
    return rows


def table(rows: list[Row], allocators: list[str]) -> list[dict[str, str]]:
    """Printable rows: the board's figures, then per allocator the simulated
    per-loop time (mean over callers and seeds) and its ratio to the board's."""
    out = []
    for r in rows:
        b = r.board
        row = {"test": r.test,
               "board loops": f"{b.loops:,}" if b else "-",
               "board avg (us)": f"{b.avg_usec:,}" if b else "-",
               "board pass/fail": f"{b.passed}/{b.failed}" if b else "-",
               "board per loop (ns)": f"{per_loop_ns(b):,.0f}" if b else "-"}
        for a in allocators:
            sims = r.simulated.get(a) or []
            if not sims:
                row[f"{a} per loop (ns)"] = "-"
                row[f"{a} / board"] = "-"
                row[f"{a} pass/fail"] = "-"
                continue
            mean = sum(per_loop_ns(s) for s in sims) / len(sims)
            row[f"{a} per loop (ns)"] = f"{mean:,.0f}"
            row[f"{a} / board"] = f"{mean / per_loop_ns(b):.2f}x" if b and per_loop_ns(b) else "-"
            row[f"{a} pass/fail"] = f"{sum(s.passed for s in sims)}/{sum(s.failed for s in sims)}"
        out.append(row)
    return out


def compare(log_path: str | Path, scenario: Any, results: Any) -> tuple[list[dict[str, str]], list[str]]:
    """The table rows and notes for a board log and a finished simulation
    (``results.log``: ``simulator.runner.Results``)."""
    board = parse_dmesg(log_path)
    allocators = list(scenario.allocators)
    rows = line_up(board, list(results.log), allocators)
    notes = []
    missing = [r.test for r in rows if r.board is not None and not any(r.simulated.values())]
    if missing:
        notes.append(f"not simulated by the scenario: {', '.join(missing)} (select them in "
                     "run_test_mask, or add the lib/test_vmalloc.c case as a caller)")
    if any(r.test in NO_LOOP_TESTS for r in rows):
        notes.append(f"{', '.join(t for t in NO_LOOP_TESTS if any(r.test == t for r in rows))}: "
                     "does not loop; its whole repetition is compared")
    loops = {(r.board.loops, s.loops) for r in rows if r.board for ss in r.simulated.values() for s in ss}
    if any(b != s for b, s in loops):
        notes.append("the scenario runs other loop counts than the board: compare the per-loop times "
                     "(avg is whole microseconds, so short simulated loops are coarse)")
    return table(rows, allocators), notes


__all__ = ["compare", "line_up", "table", "simulated_summaries", "per_loop_ns"]
