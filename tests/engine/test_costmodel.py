"""Cost model and device profiles: every Steps field priced, hit/miss, TLB ceiling."""

from __future__ import annotations

import re

import pytest
import yaml

from simulator.allocators.base import Steps
from simulator.costmodel import PARAMETERS, CostModel
from simulator.devices import DEVICES_DIR, device_path, list_devices, load_device
from simulator.kconst import lazy_max_pages

# Steps field -> the parameter that prices one unit of it
FIELD_PRICE = {
    "list_nodes": "node_hot_ns", "tree_nodes": "node_hot_ns", "tree_inserts": "rb_insert_ns",
    "tree_erases": "rb_erase_ns", "augment_updates": "augment_update_ns", "merges": "merge_ns",
    "objects_allocated": "kmalloc_ns", "objects_freed": "kfree_ns",
}


def distinct_cost() -> dict:
    """A profile where every parameter has a distinct value, so a mix-up shows."""
    cost = dict(load_device("qemu-x86")["cost"])
    for i, (key, (kind, _)) in enumerate(PARAMETERS.items()):
        if kind == "ns":
            cost[key] = float(100 + 7 * i)
    cost["lock_kind"] = "ticket"           # lock_waiter_ns > 0 needs a ticket lock
    assert len({cost[k] for k in FIELD_PRICE.values()} | {cost["fit_ns"]}) == 8
    return cost


@pytest.mark.parametrize("field", Steps.FIELDS)
def test_every_steps_field_is_priced(field: str) -> None:
    cost = distinct_cost()
    m = CostModel(cost, 4)
    s = Steps()
    if field == "fit":
        for fit in ("FL", "LE", "RE", "NE"):
            s.fit = fit
            assert m.steps_ns(s, 1) == cost["fit_ns"]
        return
    if field == "free_nodes":        # a part of list_nodes + tree_nodes, not a price of its own
        s.tree_nodes = s.free_nodes = 3
        assert m.steps_ns(s, 1, 1) == 3 * cost["node_hot_ns"]
        return
    setattr(s, field, 3)
    assert m.steps_ns(s, 1) == 3 * cost[FIELD_PRICE[field]]


def test_walked_nodes_hit_when_structure_fits_cache_miss_when_not() -> None:
    # the whole-structure rule (per-level caching off; tested on its own below)
    cost = dict(load_device("embedded-arm64", {"level_cache": False})["cost"])
    m = CostModel(cost, 4)
    fit = cost["cache_bytes"] // cost["vmap_area_bytes"]      # largest structure that fits
    s = Steps()
    s.list_nodes = 10
    assert m.steps_ns(s, fit) == 10 * cost["node_hot_ns"]
    assert m.steps_ns(s, fit + 1) == 10 * cost["node_cold_ns"]
    # notes: 15,000 busy areas do not fit a 512 KiB A53 L2 but do fit an x86 LLC
    assert m.node_ns(15_000) == cost["node_cold_ns"]
    x86 = load_device("qemu-x86")["cost"]
    assert CostModel(x86, 4).node_ns(15_000) == x86["node_hot_ns"]
    # each walked node is priced by the structure it walked: with 15,000 busy
    # areas (cold) and 3 free blocks (hot), a free-list walk of 3 free blocks
    # plus a busy-tree insert descent of 14 nodes
    s = Steps()
    s.list_nodes, s.tree_nodes, s.free_nodes = 3, 14, 3
    assert m.steps_ns(s, 15_000, 3) == 3 * cost["node_hot_ns"] + 14 * cost["node_cold_ns"]
    assert m.steps_ns(s, 3, 15_000) == 3 * cost["node_cold_ns"] + 14 * cost["node_hot_ns"]
    # vfree's busy lookup: one descent of ceil(log2(n+1)) nodes
    assert m.lookup_ns(15_000) == 14 * cost["node_cold_ns"]


def test_tlb_flush_ceiling() -> None:
    x86 = load_device("qemu-x86")["cost"]
    m = CostModel(x86, 4)
    fixed = x86["tlb_flush_fixed_ns"] + 3 * x86["tlb_flush_remote_cpu_ns"]
    assert m.tlb_flush_ns(33) == fixed + 33 * x86["tlb_flush_page_ns"]
    assert m.tlb_flush_ns(34) == fixed + x86["tlb_flush_full_ns"]
    arm32 = load_device("embedded-arm32")["cost"]
    assert arm32["tlb_flush_page_ceiling"] is None
    assert (CostModel(arm32, 4).tlb_flush_ns(10**6)
            == arm32["tlb_flush_fixed_ns"] + 10**6 * arm32["tlb_flush_page_ns"])
    arm64 = load_device("embedded-arm64")["cost"]
    assert arm64["tlb_flush_page_ceiling"] == 512


def test_profiles_as_specified() -> None:
    assert set(list_devices()) == {"qemu-x86", "embedded-arm32", "embedded-arm64", "x86-server",
                                   "x86-laptop", "x86-zen2-32c", "arm64-biglittle"}
    arm32 = load_device("embedded-arm32")
    a = arm32["address_space"]
    assert (a["vmalloc_start"], a["vmalloc_end"]) == (0xF0800000, 0xFF800000)
    assert a["vmalloc_end"] - a["vmalloc_start"] == 240 << 20 and a["word_bits"] == 32
    assert arm32["cost"]["lock_kind"] == "ticket" and arm32["cpus"] == 4
    assert load_device("x86-server")["cpus"] == 64
    assert load_device("x86-laptop")["cpus"] == 4 and load_device("x86-zen2-32c")["cpus"] == 32
    assert load_device("arm64-biglittle")["cpus"] == 8
    # cost-model-notes "Starting defaults": cpus / lazy_max_pages
    for name, lmp in (("qemu-x86", 24576), ("embedded-arm32", 24576),
                      ("embedded-arm64", 24576), ("x86-server", 57344)):
        d = load_device(name)
        assert lazy_max_pages(d["cpus"], d["address_space"]["page_size"]) == lmp


@pytest.mark.parametrize("name", sorted(list_devices()))
def test_every_parameter_names_its_source(name: str) -> None:
    text = device_path(name).read_text()
    data = yaml.safe_load(text)
    assert set(data["cost"]) == set(PARAMETERS)
    lines = text.splitlines()
    for key in list(data["cost"]) + list(data["address_space"]) + ["cpus"]:
        line = next(ln for ln in lines if re.match(rf"\s*{key}:", ln))
        assert re.search(r"#.*\[(M|D|E)\]", line), f"{name}: {key} has no sourced comment"
    for key, (lo, hi) in (data.get("allowed_range") or {}).items():
        assert lo <= data["cost"][key] <= hi, f"{name}: {key} default outside its allowed_range"


def test_load_device_errors_are_one_line() -> None:
    with pytest.raises(ValueError, match=r"unknown device 'nope'; accepted: arm64-biglittle, embedded-arm32"):
        load_device("nope")
    with pytest.raises(ValueError, match=r"unknown cost parameter 'node_ns'; accepted: cache_bytes"):
        load_device("qemu-x86", {"node_ns": 1})
    with pytest.raises(ValueError, match=r"lock_kind: expected one of qspinlock, ticket, tas"):
        load_device("qemu-x86", {"lock_kind": "mcs"})
    # a per-waiter cost on a queued lock would be ignored: refused instead
    with pytest.raises(ValueError, match=r"lock_waiter_ns prices a ticket lock's .* accepted: "
                                         r"lock_waiter_ns 0, or lock_kind ticket"):
        load_device("qemu-x86", {"lock_waiter_ns": 20})
    assert load_device("qemu-x86", {"lock_waiter_ns": 20, "lock_kind": "ticket"})
    with pytest.raises(ValueError, match=r"node_hot_ns: expected a number"):
        load_device("qemu-x86", {"node_hot_ns": "fast"})
    assert load_device("qemu-x86", {"tlb_flush_page_ceiling": None})["cost"]["tlb_flush_page_ceiling"] is None
    assert DEVICES_DIR.name == "devices"


@pytest.mark.parametrize("device", ["qemu-x86", "x86-laptop", "arm64-biglittle"])
@pytest.mark.parametrize("level_cache", [False, True])
def test_tree_walk_ns_is_steps_ns_of_a_lookup(device: str, level_cache: bool) -> None:
    # vfree's find_vmap_area is priced by tree_walk_ns (4.19 paths): it must be
    # the very float steps_ns gives a Steps whose only count is tree_nodes, on
    # either side of the cache threshold and with per-level caching on or off
    cost = dict(load_device(device)["cost"], level_cache=level_cache)
    cm = CostModel(cost, 4)
    sizes = [0, 1, 7, cm.cache_nodes - 1, cm.cache_nodes, cm.cache_nodes + 1, 10 * cm.cache_nodes + 3]
    for busy in sizes:
        for nodes in (0, 1, busy.bit_length(), 40):
            s = Steps()
            s.tree_nodes = nodes
            assert cm.tree_walk_ns(nodes, busy) == cm.steps_ns(s, busy)
    # non-vacuity: the two sides of the threshold price differently
    assert cm.tree_walk_ns(5, 1) != cm.tree_walk_ns(5, 10 * cm.cache_nodes + 3)
