"""Golden runs: one small seeded run per kernel generation, pinned.

Seeded model output, not kernel measurements: each value is what vmsim
computed for the spec below when the number was pinned (qemu-x86, 2 CPUs,
the quickstart's random_size_alloc_test on CPU 0 and thread stacks forking in
the background on CPU 1, 1,500 iterations, seed 11).  They catch any change
of decisions (ops, purges, list nodes) or prices (loop time, p99).  When the
model or the qemu-x86 cost table changes on purpose, re-pin with

    VMSIM_PIN_GOLDEN=1 python -m pytest tests/kernels/test_golden.py -s

and say in the commit why the numbers moved (``-s`` prints the new values).
"""

from __future__ import annotations

import os

import pytest

from engine.conftest import make_spec
from simulator.kernels import names
from simulator.runner import simulate
from simulator.spec import CallerSpec as Caller


def golden_run(gen: str) -> dict[str, float | int]:
    callers = (Caller("random_size_alloc_test", 0),
               Caller("thread-stacks", 1, {"rate_per_s": 20000}, background=True))
    r = simulate(make_spec(gen, cpus=2, callers=callers, iterations=1500, seed=11))
    s = r.summary
    return {"ops": int(s["ops"]), "loop_time_ns": round(float(s["loop_time_ns"]), 1),
            "p99_ns": round(float(s["p99_ns"]), 1), "purges": int(s["purges"]),
            "list_nodes": int(r.ops["list_nodes"].sum())}


GOLDEN: dict[str, dict[str, float | int]] = {
    'linux-4.19': {'ops': 3120, 'loop_time_ns': 8824390.7, 'p99_ns': 5996.8, 'purges': 4,
                   'list_nodes': 68850},
    'rfc-2018': {'ops': 3119, 'loop_time_ns': 8718941.2, 'p99_ns': 5979.6, 'purges': 4, 'list_nodes': 14038},
    'linux-5.2': {'ops': 3120, 'loop_time_ns': 8778484.9, 'p99_ns': 6024.5, 'purges': 4, 'list_nodes': 0},
    'linux-5.10': {'ops': 3120, 'loop_time_ns': 8846333.1, 'p99_ns': 6020.7, 'purges': 4, 'list_nodes': 0},
    'linux-5.15': {'ops': 3119, 'loop_time_ns': 8732273.5, 'p99_ns': 6028.5, 'purges': 4, 'list_nodes': 0},
    'linux-6.1': {'ops': 3119, 'loop_time_ns': 8676457.2, 'p99_ns': 6002.1, 'purges': 7, 'list_nodes': 0},
    'linux-6.6': {'ops': 3117, 'loop_time_ns': 8610117.7, 'p99_ns': 6009.6, 'purges': 7, 'list_nodes': 0},
    'linux-6.9': {'ops': 3117, 'loop_time_ns': 8541742.9, 'p99_ns': 5953.5, 'purges': 6, 'list_nodes': 0},
}


@pytest.mark.parametrize("gen", names())
def test_golden_run(gen: str) -> None:
    got = golden_run(gen)
    if os.environ.get("VMSIM_PIN_GOLDEN"):
        print(f"\n    {gen!r}: {got!r},")
        return
    assert gen in GOLDEN, f"no golden values pinned for {gen}: VMSIM_PIN_GOLDEN=1 (docstring)"
    assert got == GOLDEN[gen]


def test_the_goldens_tell_the_generations_apart() -> None:
    # non-vacuity: the pinned runs differ where the kernels differ
    assert len({(g["loop_time_ns"], g["list_nodes"]) for g in GOLDEN.values()}) == len(GOLDEN)
    assert GOLDEN["linux-4.19"]["list_nodes"] > GOLDEN["linux-5.2"]["list_nodes"] == 0

