"""Kernel generations in the engine: each takes its kernel's locks in its
kernel's order, and two CPUs contend on each of them.

The lock order is read from the engine itself: every ``Engine.spin_lock``
call is recorded as (who, lock).  The expected sequences come from the
kernels' ``mm/vmalloc.c`` (docstrings of ``simulator/kernels/*.py``):

* 4.19, the RFC, 5.2: one ``vmap_area_lock`` section per vmalloc and per
  vfree; the purge (on the freeing CPU) takes it again;
* 6.1: vmalloc = ``free_vmap_area_lock`` (search + clip), then
  ``vmap_area_lock`` (busy insert); vfree = ``vmap_area_lock`` three times
  (find_vm_area, remove_vm_area, unlink_va; 6.3+ once:
  find_unlink_vmap_area), then ``purge_vmap_area_lock``
  (merge into the purge tree); the drain kworker = ``purge_vmap_area_lock``
  (take the list), then ``free_vmap_area_lock`` (merge every block back).
"""

from __future__ import annotations

import pytest

from simulator.engine import Engine
from simulator.kernels import GENERATIONS, resolve
from simulator.runner import simulate

from .conftest import make_spec

ONE_LOCK = ("linux-4.19", "rfc-2018", "linux-5.2")


def _record(monkeypatch) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    real = Engine.spin_lock

    def spin_lock(self, c, lock):
        name = next(n for n, lk in self.locks.items() if lk is lock)
        seen.append((c.label, name))
        return (yield from real(self, c, lock))
    monkeypatch.setattr(Engine, "spin_lock", spin_lock)
    return seen


def _run(gen: str, monkeypatch, iterations: int = 3000, cpus: int = 2):
    seen = _record(monkeypatch)
    r = simulate(make_spec(gen, cpus=cpus, iterations=iterations))
    return r, seen


def test_every_generation_is_registered_with_its_locks() -> None:
    assert set(ONE_LOCK) | {"linux-6.1", "linux-6.6"} <= set(GENERATIONS)
    for name in ONE_LOCK:
        assert [lk for lk, _ in resolve(name).locks] == ["vmap_area_lock", "vmap_purge_lock"]
    assert resolve("busy-list").name == "linux-4.19"          # the old names stay as aliases
    with pytest.raises(ValueError, match="accepted: linux-4.19"):
        resolve("linux-9.9")


@pytest.mark.parametrize("gen", ONE_LOCK)
def test_single_lock_generations_take_vmap_area_lock_once_per_op(gen, monkeypatch) -> None:
    r, seen = _run(gen, monkeypatch)
    s = r.summary
    assert s["purges"] >= 1                                    # the purge path ran too
    assert {lk for _, lk in seen} == {"vmap_area_lock"}
    # one section per op; each purge re-takes the lock once, plus once per
    # cond_resched_lock break
    per_op = sum(1 for who, _ in seen) - s["purges"]
    assert per_op >= 2 * 2 * 3000
    assert s["lock_contended:vmap_area_lock"] > 0              # two CPUs contend


@pytest.mark.parametrize("gen, lookups", [("linux-6.1", 3), ("linux-6.6", 1)])
def test_split_lock_generations_take_their_locks_in_the_kernels_order(gen, lookups, monkeypatch) -> None:
    r, seen = _run(gen, monkeypatch, cpus=4)
    s = r.summary
    F, V, P = "free_vmap_area_lock", "vmap_area_lock", "purge_vmap_area_lock"
    callers = {who for who, _ in seen if not who.startswith("kworker")}
    assert len(callers) == 4
    for who in callers:
        mine = [lk for w, lk in seen if w == who]
        # alloc_vmap_area: search + clip, then busy insert; vfree: 6.1 find_vm_area,
        # remove_vm_area, unlink_va (6.3+: find_unlink_vmap_area), then the purge tree
        one_iteration = [F, V] + [V] * lookups + [P]
        assert len(mine) == 3000 * len(one_iteration)
        assert mine == one_iteration * 3000
    worker = [lk for w, lk in seen if w.startswith("kworker")]
    assert s["purges"] >= 1 and worker
    # each drain: take the purge list, then merge back under the free lock
    # (more than once when cond_resched_lock breaks the section)
    assert worker[0] == P and worker[1] == F
    assert set(worker) == {P, F}
    for lock in (F, V, P):
        assert s[f"lock_contended:{lock}"] > 0, lock           # CPUs contend on each


def test_linux_6_1_vfree_never_purges_on_the_freeing_cpu(monkeypatch) -> None:
    # the purge runs in drain_vmap_work (a kworker): no caller section takes
    # the free lock twice in a row, and the vfree latency carries no flush
    r, seen = _run("linux-6.1", monkeypatch)
    vf = r.ops[r.ops["op"] == "vfree"]
    assert vf["purge"].sum() >= 1                  # some vfree scheduled the drain
    m = make_spec("linux-6.1", cpus=2).cost
    assert vf["latency_ns"].max() < m["tlb_flush_fixed_ns"]
