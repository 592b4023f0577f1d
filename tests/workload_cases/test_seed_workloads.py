"""seed-test1 / seed-test2 request streams against the RFC's loops."""

from __future__ import annotations

import pytest
from workload_fakes import FakeCaller, drive

PAGE = 4096


def _after(c: FakeCaller, kind: str) -> list:
    return c.ops[c.index_of(kind) + 1:]


def test_seed_test1_loop_is_alloc_touch_free() -> None:
    c = drive("seed-test1", FakeCaller(iterations=50))
    assert c.ops[0].op == "measure_start"        # nothing before the measured loop
    body = [o for o in c.ops[1:]]
    assert len(body) == 50 * 4
    for i in range(50):
        v, t, f, d = body[4 * i:4 * i + 4]
        assert (v.op, v.size_bytes, v.align, v.vstart, v.vend) == ("vmalloc", 3 * PAGE, 1, None, None)
        assert (t.op, t.addr) == ("touch", v.addr)
        assert (f.op, f.addr) == ("vfree", v.addr)
        assert d.op == "iteration_done"
    assert c.done == 50


def test_seed_test1_loops_parameter_overrides_iterations() -> None:
    c = drive("seed-test1", FakeCaller(iterations=None), {"loops": 7, "size": "2 pages"})
    assert [o.size_bytes for o in c.of("vmalloc")] == [2 * PAGE] * 7


def test_seed_test2_prefill_then_pattern() -> None:
    c = drive("seed-test2", FakeCaller(iterations=20))
    m = c.index_of("measure_start")
    prefill = c.ops[:m]
    assert len(prefill) == 15_000
    assert all(o.op == "vmalloc" and o.size_bytes == PAGE and o.addr is not None for o in prefill)
    prefill_addrs = {o.addr for o in prefill}
    body = c.ops[m + 1:]
    assert len(body) == 20 * 7
    for i in range(20):
        a1, a2, t1, t2, f1, f2, d = body[7 * i:7 * i + 7]
        assert (a1.op, a1.size_bytes) == ("vmalloc", 100 * PAGE)
        assert (a2.op, a2.size_bytes) == ("vmalloc", PAGE)
        assert [(t1.op, t1.addr), (t2.op, t2.addr)] == [("touch", a1.addr), ("touch", a2.addr)]
        assert [(f1.op, f1.addr), (f2.op, f2.addr)] == [("vfree", a1.addr), ("vfree", a2.addr)]
        assert d.op == "iteration_done"
    # the 15,000 prefilled areas stay busy for the whole run
    assert not prefill_addrs & {o.addr for o in c.of("vfree")}
    assert prefill_addrs <= set(c.busy)


@pytest.mark.parametrize("name", ["seed-test1", "seed-test2"])
def test_seed_loop_stops_with_the_run(name: str) -> None:
    # a time limit: running() turns false and the loop ends early
    c = drive(name, FakeCaller(iterations=None, time_ns=40_000_000),
              {"prefill": 10} if name == "seed-test2" else {})
    assert 0 < c.done < 1_000_000
    assert c.ops[-1].t_ns >= 40_000_000
