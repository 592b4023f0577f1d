"""Issue 5 acceptance: seed-test2 plus thread-stacks through the real engine.

Each stack allocation asks for align 16 KiB, larger than the seed's align 1,
so busy-list (Linux 4.19) drops free_vmap_cache on the next seed vmalloc and
walks from VMALLOC_START over the 15,000 prefilled areas; the RFC's free
list walks free blocks, of which there are few.
"""

from __future__ import annotations

import pytest

runner = pytest.importorskip("simulator.runner")
from simulator.scenario import parse_scenario  # noqa: E402

PREFILL = 15_000
RATE_PER_S = 2000          # the stated background rate: 2,000 forks/s, lifetime exp. 10 ms


def _loop_walks(rate_per_s: float, iterations: int = 1000) -> dict[str, object]:
    callers: list[dict] = [{"workload": "seed-test2", "cpus": 0}]
    if rate_per_s:
        callers.append({"workload": "thread-stacks", "cpus": 1, "background": True,
                        "rate_per_s": rate_per_s})
    sc = parse_scenario({"name": "bg", "device": "qemu-x86", "cpus": 2,
                         "allocators": ["busy-list", "free-list"], "callers": callers,
                         "stop": {"iterations": iterations}, "seeds": [1]})
    out = {}
    for spec in sc.run_specs():
        ops = runner.simulate(spec).ops
        seed_allocs = ops[(ops.op == "vmalloc") & ops.caller.str.startswith("seed-test2")]
        assert len(seed_allocs) == PREFILL + 2 * iterations
        out[spec.allocator] = seed_allocs.iloc[PREFILL:].list_nodes   # the measured loop only
    return out


def test_background_forks_make_busy_list_walk_thousands_free_list_few() -> None:
    walks = _loop_walks(RATE_PER_S)
    busy, free = walks["busy-list"], walks["free-list"]
    assert busy.mean() >= 1000                      # thousands of nodes per allocation
    assert busy.max() >= PREFILL                    # a walk from VMALLOC_START crosses the prefill
    assert free.mean() < 10


def test_without_background_neither_walks() -> None:
    walks = _loop_walks(0, iterations=300)
    assert walks["busy-list"].mean() < 10 and walks["free-list"].mean() < 10
