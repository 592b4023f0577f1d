"""Kernel generations in the engine: each takes its kernel's locks in its
kernel's order, and two CPUs contend on each of them.

The lock order is read from the engine itself: every ``Engine.spin_lock``
(and every lock ``Engine.try_spin_lock`` takes at once)
call is recorded as (who, lock).  The expected sequences come from the
kernels' ``mm/vmalloc.c`` (docstrings of ``simulator/kernels/*.py``):

* 4.19, the RFC, 5.2: one ``vmap_area_lock`` section per vmalloc and per
  vfree; the purge (on the freeing CPU) takes it again;
* 6.1: vmalloc = ``free_vmap_area_lock`` (search + clip), then
  ``vmap_area_lock`` (busy insert); vfree = ``vmap_area_lock`` three times
  (find_vm_area, remove_vm_area, unlink_va; 6.3+ once:
  find_unlink_vmap_area), then ``purge_vmap_area_lock``
  (merge into the purge tree); the drain kworker = ``purge_vmap_area_lock``
  (take the list), then ``free_vmap_area_lock`` (merge every block back);
* 5.15 (5.11-5.15): 6.1's sections, but the purge runs in the vfree that
  pushed vmap_lazy_nr over lazy_max_pages (try_purge_vmap_area_lazy):
  ``purge_vmap_area_lock`` (take the list), then ``free_vmap_area_lock``,
  on the caller, no kworker;
* 5.10 (5.5-5.10): vmalloc as 6.1; vfree = ``vmap_area_lock`` three times
  and no purge tree (llist_add is lock-free); the caller's purge takes only
  ``free_vmap_area_lock`` (each area merged into the free tree).
"""

from __future__ import annotations

from engine.conftest import record_lock_sections

import re

import pytest

from simulator.kernels import GENERATIONS, resolve
from simulator.runner import simulate

from .conftest import make_spec

ONE_LOCK = ("linux-4.19", "rfc-2018", "linux-5.2")


def _run(gen: str, monkeypatch, iterations: int = 3000, cpus: int = 2):
    seen = record_lock_sections(monkeypatch)
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


@pytest.mark.parametrize("gen, purge", [("linux-5.10", "F+"), ("linux-5.15", "PF+")])
def test_5_10_and_5_15_purge_in_the_freeing_task(gen, purge, monkeypatch) -> None:
    r, seen = _run(gen, monkeypatch, cpus=4)
    s = r.summary
    F, V, P = "free_vmap_area_lock", "vmap_area_lock", "purge_vmap_area_lock"
    letter = {F: "F", V: "V", P: "P"}
    assert not any(who.startswith("kworker") for who, _ in seen)      # no drain work
    # vmalloc: F (search + clip), V (insert); vfree: V x 3 (find_vm_area,
    # remove_vm_area, unlink_va), 5.15: P (merge into the purge tree); then,
    # when this vfree pushed vmap_lazy_nr over lazy_max_pages, the purge:
    # 5.15 P (take the list) and F, 5.10 F only (more F: cond_resched_lock)
    lazy = "" if gen == "linux-5.10" else "P"
    iteration = re.compile(f"FVVVV{lazy}((?:{purge})?)(?=FV|$)")
    purges_by_cpu = {}
    for who in {w for w, _ in seen}:
        mine = "".join(letter[lk] for w, lk in seen if w == who)
        groups = [m.group(1) for m in iteration.finditer(mine)]
        assert "".join(f"FVVVV{lazy}{g}" for g in groups) == mine, who
        assert len(groups) == 3000
        purges_by_cpu[who] = sum(1 for g in groups if g)
    vf = r.ops[r.ops["op"] == "vfree"]
    # each purge section group is a vfree that purged (the oplog's purge flag)
    assert sum(purges_by_cpu.values()) == int(vf["purge"].sum()) == s["purges"] >= 1
    # that vfree waited for the TLB flush and the merges (6.1's never does)
    m = make_spec(gen, cpus=4).cost
    assert vf[vf["purge"]]["latency_ns"].min() > m["tlb_flush_fixed_ns"]
    declared = [lk for lk, _ in resolve(gen).locks]
    assert declared == [F, V] + ([P] if gen == "linux-5.15" else []) + ["vmap_purge_lock"]
    for lock in (F, V) + ((P,) if gen == "linux-5.15" else ()):
        assert s[f"lock_contended:{lock}"] > 0, lock
