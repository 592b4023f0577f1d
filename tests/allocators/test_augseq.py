"""AugSeq (simulator/allocators/augseq.py) against a plain sorted list.

Random inserts, deletes and value updates drive chunk splits (into a free
neighbouring slot, through a window re-spread, through a doubling of the
slots) and emptied chunks; after every operation each query is compared with
a brute-force answer over the plain list, and ``check()`` verifies the
derived structures.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.allocators import augseq
from simulator.allocators.augseq import AugSeq

from strategies import profile_settings


def _cursor_index(seq: AugSeq, cur) -> int:
    return seq.rank(*cur)


def _compare(seq: AugSeq, ref: list[list[int]], rnd: random.Random) -> None:
    seq.check()
    assert seq.items() == [tuple(x) for x in ref]
    assert len(seq) == len(ref)
    assert seq.max_val() == max((x[2] for x in ref), default=-1)
    starts = [x[0] for x in ref]
    for _ in range(6):
        key = rnd.randrange(-5, 2 * len(ref) * 10 + 20)
        cur = seq.locate(key)
        idx = next((i for i, s in enumerate(starts) if s >= key), len(ref))
        assert _cursor_index(seq, cur) == idx
        assert seq.is_end(*cur) == (idx == len(ref))
        le = seq.locate_le(key)
        lidx = max((i for i, s in enumerate(starts) if s <= key), default=None)
        assert (le is None) == (lidx is None)
        if le is not None:
            assert seq.start(*le) == starts[lidx]
        f = seq.find(key)
        assert (f is not None) == (key in starts)
        x = rnd.randrange(0, 40)
        fg = seq.first_ge(*cur, x)
        gidx = next((i for i in range(idx, len(ref)) if ref[i][2] >= x), None)
        assert (fg is None) == (gidx is None)
        if fg is not None:
            assert _cursor_index(seq, fg) == gidx
        key2 = rnd.randrange(-5, 2 * len(ref) * 10 + 20)
        cur2 = seq.locate(key2)
        i2 = _cursor_index(seq, cur2)
        if i2 >= idx:
            assert seq.range_max(*cur, *cur2) == max((ref[i][2] for i in range(idx, i2)), default=-1)
            assert seq.distance(*cur, *cur2) == i2 - idx
        if not seq.is_end(*cur):
            nx = seq.next(*cur)
            assert _cursor_index(seq, nx) == idx + 1
        pv = seq.prev(*cur)
        assert (pv is None) == (idx == 0)
        if pv is not None:
            assert _cursor_index(seq, pv) == idx - 1


def _run(seed: int, n_ops: int, load: int, initial: int) -> None:
    rnd = random.Random(seed)
    old = augseq.LOAD
    augseq.LOAD = load
    try:
        pool = rnd.sample(range(0, 10 * (n_ops + initial + 10), 2), n_ops + initial + 10)
        ref = sorted([[s, s + 1, rnd.randrange(0, 40)] for s in pool[:initial]])
        free_keys = pool[initial:]
        seq = AugSeq([tuple(x) for x in ref])
        _compare(seq, ref, rnd)
        hot = rnd.random() < 0.5          # one hot spot (e.g. always at the top) or anywhere
        for _ in range(n_ops):
            op = rnd.random()
            if op < 0.55 and free_keys:
                if hot:
                    s = (max((x[0] for x in ref), default=0) + 2)
                else:
                    s = free_keys.pop()
                if any(x[0] == s for x in ref):
                    continue
                v = rnd.randrange(0, 40)
                cur = seq.insert(s, s + 1, v)
                assert seq.start(*cur) == s
                ref.append([s, s + 1, v])
                ref.sort()
            elif op < 0.9 and ref:
                k = rnd.randrange(len(ref)) if not hot or rnd.random() < 0.3 else len(ref) - 1
                cur = seq.find(ref[k][0])
                nxt = seq.delete(*cur)
                del ref[k]
                assert _cursor_index(seq, nxt) == k
            elif ref:
                k = rnd.randrange(len(ref))
                cur = seq.find(ref[k][0])
                if rnd.random() < 0.5:
                    v = rnd.randrange(0, 40)
                    seq.set_val(*cur, v)
                    ref[k][2] = v
                else:                      # resize within the gap to the neighbours
                    lo = ref[k - 1][1] if k else ref[k][0] - 1
                    s = rnd.randrange(lo, ref[k][0] + 1) if lo < ref[k][0] else ref[k][0]
                    if k and s <= ref[k - 1][0]:
                        s = ref[k][0]
                    seq.resize(*cur, s, s + 1)
                    ref[k][0], ref[k][1], ref[k][2] = s, s + 1, 1
            _compare(seq, ref, rnd)
    finally:
        augseq.LOAD = old


@pytest.mark.parametrize("seed", range(8))
def test_augseq_small_chunks(seed: int) -> None:
    """LOAD = 2: chunks split and empty all the time (windows, doublings)."""
    _run(seed, 400, 2, initial=seed * 7)


@profile_settings(max_examples=min(100, profile_settings().max_examples))
@given(seed=st.integers(0, 1 << 30), load=st.sampled_from([1, 2, 3, 8]),
       initial=st.integers(0, 60))
def test_augseq_matches_a_plain_list(seed: int, load: int, initial: int) -> None:
    _run(seed, 150, load, initial)


def test_split_and_empty_do_not_rebuild(monkeypatch) -> None:
    """A chunk split touches only a window of slots; an emptied chunk none."""
    seq = AugSeq([(2 * i, 2 * i + 1, 0) for i in range(100 * augseq.LOAD)])
    calls = []
    orig = AugSeq._spread
    monkeypatch.setattr(AugSeq, "_spread", lambda self, *a: (calls.append(1), orig(self, *a)))
    top = 2 * 100 * augseq.LOAD
    for i in range(3 * augseq.LOAD):                      # splits at the top
        seq.insert(top + 2 * i, top + 2 * i + 1, 1)
    for i in range(augseq.LOAD):                          # empties the first chunk
        seq.delete(*seq.first_cursor())
    seq.check()
    assert calls == []
