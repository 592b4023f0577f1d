"""AugSeq: an address-sorted sequence of (start, end, val) with O(log n) queries.

The fast policies use it to *count* list walks without stepping through them:
"the first area at or after position p whose gap is >= size" and "the largest
gap in positions [p, q)" answer in O(log n) Python steps, and the number of
nodes walked is a difference of ranks.

Layout: items live in chunks (parallel Python lists of starts, ends, vals, at
most ``2 * LOAD`` long); ``_firsts`` holds each chunk's first start (bisect to a
chunk), a segment tree over the chunks' maximum ``val`` answers first->=x and
range-max across chunks, and a Fenwick tree over chunk lengths gives ranks.
Structural changes (a chunk splits or empties) rebuild the two trees, O(n/LOAD),
amortised over LOAD insertions.

A *cursor* is a pair (chunk, index).  ``val`` is whatever the owner wants
maximised: the gap before a busy area (busy-list) or a free block's size
(free-list).  Starts must stay sorted and distinct; the owner guarantees it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

LOAD = 64
_NEG = -1


class AugSeq:
    __slots__ = ("_s", "_e", "_v", "_firsts", "_cmax", "_seg", "_size", "_fen", "_n")

    def __init__(self, items: list[tuple[int, int, int]] = ()) -> None:
        items = list(items)
        self._s: list[list[int]] = []
        self._e: list[list[int]] = []
        self._v: list[list[int]] = []
        for k in range(0, len(items), LOAD):
            part = items[k:k + LOAD]
            self._s.append([t[0] for t in part])
            self._e.append([t[1] for t in part])
            self._v.append([t[2] for t in part])
        if not self._s:
            self._s, self._e, self._v = [[]], [[]], [[]]
        self._n = len(items)
        self._rebuild()

    # ------------------------------------------------------------ structure
    def _rebuild(self) -> None:
        s_lists = self._s
        self._firsts = [c[0] if c else 0 for c in s_lists]
        self._cmax = [max(v) if v else _NEG for v in self._v]
        nchunks = len(s_lists)
        size = 1
        while size < nchunks:
            size <<= 1
        seg = [_NEG] * (2 * size)
        seg[size:size + nchunks] = self._cmax
        for i in range(size - 1, 0, -1):
            a, b = seg[2 * i], seg[2 * i + 1]
            seg[i] = a if a > b else b
        self._seg, self._size = seg, size
        # Fenwick tree over chunk lengths (1-based)
        fen = [0] * (nchunks + 1)
        for i, c in enumerate(s_lists, 1):
            fen[i] += len(c)
            j = i + (i & -i)
            if j <= nchunks:
                fen[j] += fen[i]
        self._fen = fen

    def _seg_set(self, c: int, value: int) -> None:
        self._cmax[c] = value
        seg = self._seg
        i = c + self._size
        seg[i] = value
        i >>= 1
        while i:
            a, b = seg[2 * i], seg[2 * i + 1]
            m = a if a > b else b
            if seg[i] == m:
                break
            seg[i] = m
            i >>= 1

    def _fen_add(self, c: int, delta: int) -> None:
        fen = self._fen
        i = c + 1
        n = len(fen) - 1
        while i <= n:
            fen[i] += delta
            i += i & -i

    def _chunk_max_changed(self, c: int, old: int, new: int) -> None:
        cm = self._cmax[c]
        if new >= cm:
            if new != cm:
                self._seg_set(c, new)
        elif old == cm and old not in self._v[c]:   # (a tie leaves the maximum as it is)
            self._seg_set(c, max(self._v[c]))

    # ------------------------------------------------------------ read-outs
    def __len__(self) -> int:
        return self._n

    def max_val(self) -> int:
        return self._seg[1] if self._n else _NEG

    def items(self) -> list[tuple[int, int, int]]:
        out = []
        for s, e, v in zip(self._s, self._e, self._v):
            out.extend(zip(s, e, v))
        return out

    def rank(self, c: int, j: int) -> int:
        """Number of items before cursor (c, j)."""
        fen = self._fen
        i = c
        r = j
        while i > 0:
            r += fen[i]
            i -= i & -i
        return r

    def distance(self, c1: int, j1: int, c2: int, j2: int) -> int:
        """Number of items in [(c1, j1), (c2, j2))."""
        if c1 == c2:
            return j2 - j1
        return self.rank(c2, j2) - self.rank(c1, j1)

    def end_cursor(self) -> tuple[int, int]:
        c = len(self._s) - 1
        return c, len(self._s[c])

    def locate(self, key: int) -> tuple[int, int]:
        """Cursor of the first item with start >= key (end cursor if none)."""
        c = bisect_right(self._firsts, key) - 1
        if c < 0:
            c = 0
        s = self._s[c]
        j = bisect_left(s, key)
        if j == len(s) and c + 1 < len(self._s):
            return c + 1, 0
        return c, j

    def locate_le(self, key: int) -> tuple[int, int] | None:
        """Cursor of the last item with start <= key, or None."""
        c = bisect_right(self._firsts, key) - 1
        if c < 0:
            c = 0
        s = self._s[c]
        j = bisect_right(s, key) - 1
        if j >= 0:
            return c, j
        if c > 0:
            return c - 1, len(self._s[c - 1]) - 1
        return None

    def find(self, key: int) -> tuple[int, int] | None:
        """Cursor of the item whose start == key, or None."""
        c = bisect_right(self._firsts, key) - 1
        if c < 0:
            return None
        s = self._s[c]
        j = bisect_left(s, key)
        if j < len(s) and s[j] == key:
            return c, j
        return None

    def is_end(self, c: int, j: int) -> bool:
        return j >= len(self._s[c])

    def get(self, c: int, j: int) -> tuple[int, int, int]:
        return self._s[c][j], self._e[c][j], self._v[c][j]

    def start(self, c: int, j: int) -> int:
        return self._s[c][j]

    def end(self, c: int, j: int) -> int:
        return self._e[c][j]

    def next(self, c: int, j: int) -> tuple[int, int]:
        """Cursor after (c, j) (the end cursor after the last item)."""
        j += 1
        if j >= len(self._s[c]) and c + 1 < len(self._s):
            return c + 1, 0
        return c, j

    def prev(self, c: int, j: int) -> tuple[int, int] | None:
        if j > 0:
            return c, j - 1
        while c > 0:
            c -= 1
            if self._s[c]:
                return c, len(self._s[c]) - 1
        return None

    def first_ge(self, c: int, j: int, x: int) -> tuple[int, int] | None:
        """Cursor of the first item at or after (c, j) with val >= x, or None."""
        if self._cmax[c] >= x:
            v = self._v[c]
            for k in range(j, len(v)):
                if v[k] >= x:
                    return c, k
        c = self._seg_first_ge(c + 1, x)
        if c < 0:
            return None
        v = self._v[c]
        for k in range(len(v)):
            if v[k] >= x:
                return c, k
        raise AssertionError("segment tree and chunk maxima disagree")

    def _seg_first_ge(self, c: int, x: int) -> int:
        """Smallest chunk index >= c whose max val >= x, or -1."""
        if c >= len(self._s):
            return -1
        seg, size = self._seg, self._size
        i = c + size
        if seg[i] < x:
            while True:
                if i == 1:
                    return -1
                if not i & 1 and seg[i + 1] >= x:
                    i += 1
                    break
                i >>= 1
        while i < size:
            i <<= 1
            if seg[i] < x:
                i += 1
        return i - size

    def range_max(self, c1: int, j1: int, c2: int, j2: int) -> int:
        """Max val over cursors [(c1, j1), (c2, j2)); -1 when empty."""
        if c1 == c2:
            return max(self._v[c1][j1:j2], default=_NEG)
        best = max(self._v[c1][j1:], default=_NEG)
        if j2:
            m = max(self._v[c2][:j2])
            if m > best:
                best = m
        lo, hi = c1 + 1 + self._size, c2 + self._size
        seg = self._seg
        while lo < hi:
            if lo & 1:
                if seg[lo] > best:
                    best = seg[lo]
                lo += 1
            if hi & 1:
                hi -= 1
                if seg[hi] > best:
                    best = seg[hi]
            lo >>= 1
            hi >>= 1
        return best

    # ------------------------------------------------------------ updates
    def set_val(self, c: int, j: int, value: int) -> None:
        v = self._v[c]
        old = v[j]
        if old != value:
            v[j] = value
            self._chunk_max_changed(c, old, value)

    def resize(self, c: int, j: int, start: int, end: int) -> None:
        """Set an item's start and end, and its val to end - start (a block's size)."""
        self._s[c][j] = start
        if j == 0:
            self._firsts[c] = start
        self._e[c][j] = end
        v = self._v[c]
        old = v[j]
        new = end - start
        if old != new:
            v[j] = new
            self._chunk_max_changed(c, old, new)

    def set_start(self, c: int, j: int, start: int) -> None:
        self._s[c][j] = start
        if j == 0:
            self._firsts[c] = start

    def set_end(self, c: int, j: int, end: int) -> None:
        self._e[c][j] = end

    def insert(self, start: int, end: int, val: int) -> tuple[int, int]:
        """Insert at its sorted place; return its cursor."""
        c, j = self.locate(start)
        return self.insert_at(c, j, start, end, val)

    def insert_at(self, c: int, j: int, start: int, end: int, val: int) -> tuple[int, int]:
        """Insert at cursor (c, j), which must be ``locate(start)``; return its cursor."""
        s, e, v = self._s[c], self._e[c], self._v[c]
        s.insert(j, start)
        e.insert(j, end)
        v.insert(j, val)
        self._n += 1
        if j == 0:
            self._firsts[c] = start
        if len(s) > 2 * LOAD:
            self._s[c + 1:c + 1] = [s[LOAD:]]
            self._e[c + 1:c + 1] = [e[LOAD:]]
            self._v[c + 1:c + 1] = [v[LOAD:]]
            del s[LOAD:], e[LOAD:], v[LOAD:]
            self._rebuild()
            if j >= LOAD:
                return c + 1, j - LOAD
            return c, j
        self._fen_add(c, 1)
        if val > self._cmax[c]:
            self._seg_set(c, val)
        return c, j

    def delete(self, c: int, j: int) -> tuple[int, int]:
        """Remove the item at (c, j); return the cursor of the item that followed it."""
        s, e, v = self._s[c], self._e[c], self._v[c]
        del s[j], e[j]
        old = v.pop(j)
        self._n -= 1
        if not s and len(self._s) > 1:
            del self._s[c], self._e[c], self._v[c]
            self._rebuild()
            return (c, 0) if c < len(self._s) else (c - 1, len(self._s[c - 1]))
        if j == 0 and s:
            self._firsts[c] = s[0]
        self._fen_add(c, -1)
        if old == self._cmax[c] and old not in v:   # (a tie leaves the maximum as it is)
            self._seg_set(c, max(v) if v else _NEG)
        if j >= len(s) and c + 1 < len(self._s):
            return c + 1, 0
        return c, j
