"""OpLog's per-op records: buffered in lists and moved into the arrays every
4,096 ops, so a record must come out of ``frame()`` in order and whole on
both sides of a move; ``count`` and ``total_latency_ns`` (derived in the
records mode) must equal what a running counter and a running total give."""

from __future__ import annotations

import numpy as np

from simulator.metrics import VFREE, VMALLOC, OpLog

N_OPS = 2 * 4096 + 7          # two moves into the arrays and a buffered tail


def _ops(n: int) -> list[tuple]:
    rng = np.random.default_rng(7)
    lat = rng.lognormal(6.0, 3.0, n)          # magnitudes far apart: summing order shows
    out = []
    for k in range(n):
        comps = (float(k), 1.0, 2.0, 3.0, 4.0)
        out.append((float(10 * k), k % 3, k % 3 + 4, VMALLOC if k % 2 == 0 else VFREE, 4096 * (k % 5 + 1),
                    1, 0xffffc90000000000 + 4096 * k, k % 11 != 0, float(lat[k]), 0.5 * k, 2.0,
                    k % 13, k % 17, k % 19 == 0, comps))
    return out


def test_records_come_out_whole_and_in_order_across_the_moves() -> None:
    log = OpLog(keep_ops=True, ncallers=3)
    ops = _ops(N_OPS)
    for op in ops:
        log.add(*op)
    assert log.count == N_OPS                                  # before any move of the tail
    df = log.frame(["a", "b", "c"])
    assert log.count == N_OPS                                  # and after
    assert len(df) == N_OPS
    assert df["t_ns"].tolist() == [op[0] for op in ops]
    assert df["addr"].tolist() == [op[6] for op in ops]
    assert df["ok"].tolist() == [op[7] for op in ops]
    assert df["purge"].tolist() == [op[13] for op in ops]
    assert df["search_ns"].tolist() == [op[14][0] for op in ops]
    assert df["cpu"].tolist() == [op[2] for op in ops]


def test_total_latency_is_the_running_total_in_both_modes() -> None:
    ops = _ops(N_OPS)
    running = 0.0
    for op in ops:
        running += op[8]
    lat = np.array([op[8] for op in ops])
    assert float(np.sum(lat)) != running           # non-vacuity: a pairwise sum would differ
    for keep in (True, False):
        log = OpLog(keep_ops=keep, ncallers=3)
        for op in ops:
            log.add(*op)
        assert log.total_latency_ns == running
        assert log.count == N_OPS


def test_failed_vmallocs_are_counted_by_request_in_both_modes() -> None:
    ops = _ops(100)
    want: dict[tuple[int, int], int] = {}
    for op in ops:
        if not op[7] and op[3] == VMALLOC:
            want[(op[4], op[5])] = want.get((op[4], op[5]), 0) + 1
    assert want                                    # the data has failed vmallocs
    for keep in (True, False):
        log = OpLog(keep_ops=keep, ncallers=3)
        for op in ops:
            log.add(*op)
        assert log.failed == want
