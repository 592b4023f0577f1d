"""AugSeq: an address-sorted sequence of (start, end, val) with O(log n) queries.

The fast policies use it to *count* list walks without stepping through them:
"the first area at or after position p whose val is >= x" and "the largest
val in positions [p, q)" answer in O(log n) Python steps, and the number of
nodes walked is a difference of ranks.

Layout: items live in *chunks* (parallel Python lists of starts, ends, vals,
at most ``2 * LOAD`` long) held in ``K`` chunk *slots* (K a power of two).
Slots are in address order, and a slot may be empty: an emptied chunk just
leaves its slot empty.  Over the slots sit

* a max segment tree of each slot's largest ``val`` (-1 for an empty slot):
  first slot from s whose max >= x, range maxima;
* the item count of each block of ``BLOCK`` slots: ranks (a sum over the
  blocks before and the slots before in the block, in C);
* the *chunk index*: the sorted first starts of the non-empty slots and their
  slot numbers (bisect to a chunk, the neighbouring chunk).

Costs (n items, C = n / LOAD chunks, K <= 4 C slots):

* queries, value updates, insert/delete inside a chunk: O(log n) Python steps
  (plus list.insert / max() over one chunk of <= 2 LOAD items, in C; a rank
  sums <= K / BLOCK + BLOCK counts in C);
* a chunk that empties: O(log n) (its slot stays empty; one list.pop on the
  chunk index, a C memmove of C pointers);
* a chunk that overflows splits into a free neighbouring slot, or else the
  chunks of the smallest aligned window of slots with room are spread evenly
  over it (a packed-memory array): O(log^2 n) amortised Python steps, plus one
  list.insert on the chunk index (C memmove);
* when no window has room, K doubles and every chunk is re-spread: O(C),
  once per doubling of the chunk count (O(1) amortised per insert).

Nothing is rebuilt in proportion to the number of items on a split or an
emptied chunk.

The layout is public and read-only to the owner (a policy's hot path
indexes it instead of calling a method per step); only AugSeq's methods
write it:

* ``starts[c]``, ``ends[c]``, ``vals[c]``: slot c's chunk, parallel lists;
* ``K``: the number of slots; ``n``: the number of items;
* ``ofirst`` / ``oslot``: the chunk index (first start of each non-empty
  slot, ascending, and that slot's number).

The segment tree, the slot maxima and the block counts stay private.

A *cursor* is a pair (slot, index): always a live item, or the end cursor
``(K, 0)``; cursors compare in sequence order.  A cursor is valid until the
next insert or delete.  ``val`` is whatever the owner wants maximised (>= 0):
the gap before a busy area (busy-list) or a free block's size (free-list).
Starts must stay sorted and distinct; the owner guarantees it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable

from mypy_extensions import mypyc_attr

LOAD = 64
BLOCK = 64          # slots per block of the rank counts (a power of two)
_BSHIFT = 6         # log2(BLOCK)
_NEG = -1


@mypyc_attr(native_class=False)   # mypyc (VMSIM_COMPILE): an AssertionError stays a Python class
class AugSeqError(AssertionError):
    """An AugSeq invariant is broken (raised by :meth:`AugSeq.check`)."""


class AugSeq:
    __slots__ = ("starts", "ends", "vals", "_cmax", "_seg", "K", "_bsum", "n", "ofirst", "oslot")

    def __init__(self, items: Iterable[tuple[int, int, int]] = ()) -> None:
        items = list(items)
        chunks = []
        for k in range(0, len(items), LOAD):
            part = items[k:k + LOAD]
            chunks.append(([t[0] for t in part], [t[1] for t in part], [t[2] for t in part]))
        self.n = len(items)
        self._spread(chunks, 2 * len(chunks))

    # ------------------------------------------------------------ structure
    def _spread(self, chunks: list[tuple[list[int], list[int], list[int]]], want: int) -> None:
        """(Re)build everything with ``chunks`` spread evenly over >= want slots."""
        K = 2
        while K < want:
            K <<= 1
        self.K = K
        self.starts: list[list[int]] = [[] for _ in range(K)]
        self.ends: list[list[int]] = [[] for _ in range(K)]
        self.vals: list[list[int]] = [[] for _ in range(K)]
        self._cmax = [_NEG] * K
        m = len(chunks)
        self.ofirst, self.oslot = [], []
        for i, (s, e, v) in enumerate(chunks):
            c = (i * K) // m
            self.starts[c], self.ends[c], self.vals[c] = s, e, v
            self._cmax[c] = max(v)
            self.ofirst.append(s[0])
            self.oslot.append(c)
        seg = [_NEG] * (2 * K)
        seg[K:] = self._cmax
        for i in range(K - 1, 0, -1):
            a, b = seg[2 * i], seg[2 * i + 1]
            seg[i] = a if a > b else b
        self._seg = seg
        S = self.starts
        self._bsum = [sum(map(len, S[b:b + BLOCK])) for b in range(0, K, BLOCK)]

    def _seg_set(self, c: int, value: int) -> None:
        """Slot c's maximum is now ``value``: the leaf, then its ancestors."""
        if value > self._cmax[c]:
            self._seg_raise(c, value)
        else:
            self._seg_lower(c, value)

    def _seg_raise(self, c: int, value: int) -> None:
        """_seg_set for a maximum that grows: an ancestor becomes max(it, value)."""
        self._cmax[c] = value
        seg = self._seg
        i = c + self.K
        seg[i] = value
        i >>= 1
        while i and seg[i] < value:
            seg[i] = value
            i >>= 1

    def _seg_lower(self, c: int, value: int) -> None:
        """_seg_set for a maximum that shrinks (or stays): an ancestor becomes
        max(value, the sibling's), up to the first that keeps its maximum."""
        self._cmax[c] = value
        seg = self._seg
        i = c + self.K
        seg[i] = value
        while i > 1:
            sib = seg[i ^ 1]
            if sib > value:
                value = sib
            i >>= 1
            if seg[i] == value:
                break
            seg[i] = value

    def _chunk_max_changed(self, c: int, old: int, new: int) -> None:
        cm = self._cmax[c]
        if new >= cm:
            if new != cm:
                self._seg_set(c, new)
        elif old == cm and old not in self.vals[c]:   # (a tie leaves the maximum as it is)
            self._seg_set(c, max(self.vals[c]))

    def _oindex(self, c: int) -> int:
        """Position of non-empty slot c in the chunk index."""
        return bisect_left(self.ofirst, self.starts[c][0])

    def _split(self, c: int) -> None:
        """Chunk c overflowed: give its upper half a slot of its own."""
        s, e, v = self.starts[c], self.ends[c], self.vals[c]
        lower = (s[:LOAD], e[:LOAD], v[:LOAD])
        upper = (s[LOAD:], e[LOAD:], v[LOAD:])
        K = self.K
        if c + 1 < K and not self.starts[c + 1]:
            self._place(c, c + 2, [lower, upper])
            return
        if c > 0 and not self.starts[c - 1]:
            self._place(c - 1, c + 1, [lower, upper])
            return
        oslot = self.oslot
        levels = K.bit_length() - 1
        w, depth = 4, 2
        while w <= K:
            lo = (c // w) * w
            hi = lo + w
            a, b = bisect_left(oslot, lo), bisect_left(oslot, hi)
            # density bound: 1 at the leaves down to 1/2 for the whole array
            if (b - a + 1) * 2 * levels <= w * (2 * levels - depth):
                chunks = []
                for k in range(a, b):
                    d = oslot[k]
                    if d == c:
                        chunks.append(lower)
                        chunks.append(upper)
                    else:
                        chunks.append((self.starts[d], self.ends[d], self.vals[d]))
                self._place(lo, hi, chunks)
                return
            w <<= 1
            depth += 1
        # No room anywhere: double the slots (once per doubling of the chunk count).
        chunks = []
        for d in oslot:
            if d == c:
                chunks.append(lower)
                chunks.append(upper)
            else:
                chunks.append((self.starts[d], self.ends[d], self.vals[d]))
        self._spread(chunks, 4 * len(chunks))

    def _place(self, lo: int, hi: int, chunks: list[tuple[list[int], list[int], list[int]]]) -> None:
        """Put ``chunks`` (in order, all the chunks of slots [lo, hi) plus one) evenly
        into slots [lo, hi); update the trees and the chunk index for that window."""
        S, E, V, cmax = self.starts, self.ends, self.vals, self._cmax
        old_len = [len(S[c]) for c in range(lo, hi)]
        a = bisect_left(self.oslot, lo)
        b = bisect_left(self.oslot, hi)
        for c in range(lo, hi):
            S[c], E[c], V[c] = [], [], []
            cmax[c] = _NEG
        w, m = hi - lo, len(chunks)
        firsts, slots = [], []
        for i, (s, e, v) in enumerate(chunks):
            c = lo + (i * w) // m
            S[c], E[c], V[c] = s, e, v
            cmax[c] = max(v)
            firsts.append(s[0])
            slots.append(c)
        self.ofirst[a:b] = firsts
        self.oslot[a:b] = slots
        # segment tree: the window's leaves, then their ancestors
        K, seg = self.K, self._seg
        seg[K + lo:K + hi] = cmax[lo:hi]
        x, y = (K + lo) >> 1, (K + hi - 1) >> 1
        while x:
            for i in range(x, y + 1):
                p, q = seg[2 * i], seg[2 * i + 1]
                seg[i] = p if p > q else q
            x >>= 1
            y >>= 1
        bsum = self._bsum
        for c in range(lo, hi):
            d = len(S[c]) - old_len[c - lo]
            if d:
                bsum[c >> _BSHIFT] += d

    # ------------------------------------------------------------ read-outs
    def __len__(self) -> int:
        return self.n

    def max_val(self) -> int:
        return self._seg[1] if self.n else _NEG

    def items(self) -> list[tuple[int, int, int]]:
        out: list[tuple[int, int, int]] = []
        for c in self.oslot:
            out.extend(zip(self.starts[c], self.ends[c], self.vals[c]))
        return out

    def rank(self, c: int, j: int) -> int:
        """Number of items before cursor (c, j)."""
        if c >= self.K:
            return self.n
        b = c >> _BSHIFT
        return sum(self._bsum[:b]) + sum(map(len, self.starts[b << _BSHIFT:c])) + j

    def distance(self, c1: int, j1: int, c2: int, j2: int) -> int:
        """Number of items in [(c1, j1), (c2, j2))."""
        if c1 == c2:
            return j2 - j1
        return self.rank(c2, j2) - self.rank(c1, j1)

    def end_cursor(self) -> tuple[int, int]:
        return self.K, 0

    def first_cursor(self) -> tuple[int, int]:
        """Cursor of the first item (the end cursor when empty)."""
        return (self.oslot[0], 0) if self.n else (self.K, 0)

    def locate(self, key: int) -> tuple[int, int]:
        """Cursor of the first item with start >= key (end cursor if none)."""
        ofirst = self.ofirst
        i = bisect_right(ofirst, key) - 1
        if i < 0:
            return self.first_cursor()
        c = self.oslot[i]
        s = self.starts[c]
        j = bisect_left(s, key)
        if j < len(s):
            return c, j
        return (self.oslot[i + 1], 0) if i + 1 < len(ofirst) else (self.K, 0)

    def locate_le(self, key: int) -> tuple[int, int] | None:
        """Cursor of the last item with start <= key, or None."""
        i = bisect_right(self.ofirst, key) - 1
        if i < 0:
            return None
        c = self.oslot[i]
        return c, bisect_right(self.starts[c], key) - 1

    def find(self, key: int) -> tuple[int, int] | None:
        """Cursor of the item whose start == key, or None."""
        i = bisect_right(self.ofirst, key) - 1
        if i < 0:
            return None
        c = self.oslot[i]
        s = self.starts[c]
        j = bisect_left(s, key)
        if j < len(s) and s[j] == key:
            return c, j
        return None

    def is_end(self, c: int, j: int) -> bool:
        return c >= self.K

    def get(self, c: int, j: int) -> tuple[int, int, int]:
        return self.starts[c][j], self.ends[c][j], self.vals[c][j]

    def start(self, c: int, j: int) -> int:
        return self.starts[c][j]

    def end(self, c: int, j: int) -> int:
        return self.ends[c][j]

    def val(self, c: int, j: int) -> int:
        return self.vals[c][j]

    def next(self, c: int, j: int) -> tuple[int, int]:
        """Cursor after (c, j) (the end cursor after the last item)."""
        s = self.starts[c]
        j += 1
        if j < len(s):
            return c, j
        i = bisect_left(self.ofirst, s[0]) + 1      # _oindex(c) + 1 (inlined)
        return (self.oslot[i], 0) if i < len(self.oslot) else (self.K, 0)

    def prev(self, c: int, j: int) -> tuple[int, int] | None:
        """Cursor before (c, j) (which may be the end cursor), or None."""
        if j > 0:
            return c, j - 1
        if c >= self.K:
            if not self.n:
                return None
            i = len(self.oslot)
        else:
            i = bisect_left(self.ofirst, self.starts[c][0])  # _oindex(c) (inlined)
        if i == 0:
            return None
        d = self.oslot[i - 1]
        return d, len(self.starts[d]) - 1

    def first_ge(self, c: int, j: int, x: int) -> tuple[int, int] | None:
        """Cursor of the first item at or after (c, j) with val >= x (x >= 0), or None."""
        if c >= self.K:
            return None
        if self._cmax[c] >= x:
            v = self.vals[c]
            for k in range(j, len(v)):
                if v[k] >= x:
                    return c, k
        c = self._seg_first_ge(c + 1, x)
        if c < 0:
            return None
        v = self.vals[c]
        for k in range(len(v)):
            if v[k] >= x:
                return c, k
        raise AugSeqError("segment tree and chunk maxima disagree")

    def _seg_first_ge(self, c: int, x: int) -> int:
        """Smallest slot >= c whose max val >= x, or -1."""
        K = self.K
        if c >= K:
            return -1
        seg = self._seg
        i = c + K
        if seg[i] < x:
            while True:
                if i == 1:
                    return -1
                if not i & 1 and seg[i + 1] >= x:
                    i += 1
                    break
                i >>= 1
        while i < K:
            i <<= 1
            if seg[i] < x:
                i += 1
        return i - K

    def range_max(self, c1: int, j1: int, c2: int, j2: int) -> int:
        """Max val over cursors [(c1, j1), (c2, j2)); -1 when empty."""
        K = self.K
        if c1 >= K:
            return _NEG
        if c1 == c2:
            return max(self.vals[c1][j1:j2], default=_NEG)
        best = max(self.vals[c1][j1:], default=_NEG)
        if c2 < K and j2:
            m = max(self.vals[c2][:j2])
            if m > best:
                best = m
        lo, hi = c1 + 1 + K, c2 + K
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
        v = self.vals[c]
        old = v[j]
        if old != value:
            v[j] = value
            cm = self._cmax[c]               # _chunk_max_changed, inlined (hot path)
            if value >= cm:
                if value != cm:
                    self._seg_raise(c, value)
            elif old == cm and old not in v:   # (a tie leaves the maximum as it is)
                self._seg_lower(c, max(v))

    def set_start(self, c: int, j: int, start: int) -> None:
        s = self.starts[c]
        if j == 0:
            ofirst = self.ofirst
            ofirst[bisect_left(ofirst, s[0])] = start     # _oindex(c) (inlined)
        s[j] = start

    def set_end(self, c: int, j: int, end: int) -> None:
        self.ends[c][j] = end

    def resize(self, c: int, j: int, start: int, end: int) -> None:
        """Set an item's start and end, and its val to end - start (a block's size)."""
        s = self.starts[c]                       # set_start, set_end, set_val, inlined (hot path)
        if j == 0:
            ofirst = self.ofirst
            ofirst[bisect_left(ofirst, s[0])] = start     # _oindex(c) (inlined)
        s[j] = start
        self.ends[c][j] = end
        value = end - start
        v = self.vals[c]
        old = v[j]
        if old != value:
            v[j] = value
            cm = self._cmax[c]
            if value >= cm:
                if value != cm:
                    self._seg_raise(c, value)
            elif old == cm and old not in v:   # (a tie leaves the maximum as it is)
                self._seg_lower(c, max(v))

    def insert(self, start: int, end: int, val: int) -> tuple[int, int]:
        """Insert at its sorted place; return its cursor."""
        c, j = self.locate(start)
        return self.insert_at(c, j, start, end, val)

    def insert_at(self, c: int, j: int, start: int, end: int, val: int) -> tuple[int, int]:
        """Insert at cursor (c, j), which must be ``locate(start)``; return its cursor."""
        if c >= self.K:                        # after the last item
            if self.n:
                c = self.oslot[-1]
                j = len(self.starts[c])
            else:
                c, j = 0, 0
                self.ofirst.append(start)
                self.oslot.append(c)
        elif j == 0:
            ofirst = self.ofirst
            ofirst[bisect_left(ofirst, self.starts[c][0])] = start  # _oindex(c) (inlined)
        s, e, v = self.starts[c], self.ends[c], self.vals[c]
        s.insert(j, start)
        e.insert(j, end)
        v.insert(j, val)
        self.n += 1
        self._bsum[c >> _BSHIFT] += 1
        if val > self._cmax[c]:
            self._seg_raise(c, val)
        if len(s) > 2 * LOAD:
            self._split(c)
            return self.find(start)  # type: ignore[return-value]  # just inserted
        return c, j

    def delete(self, c: int, j: int) -> tuple[int, int]:
        """Remove the item at (c, j); return the cursor of the item that followed it."""
        s, e, v = self.starts[c], self.ends[c], self.vals[c]
        ofirst = self.ofirst
        i = bisect_left(ofirst, s[0]) if j == 0 else -1  # _oindex(c) (inlined)
        del s[j], e[j]
        old = v.pop(j)
        self.n -= 1
        self._bsum[c >> _BSHIFT] -= 1
        oslot = self.oslot
        if not s:                               # the slot empties: nothing is rebuilt
            self._seg_lower(c, _NEG)
            del ofirst[i], oslot[i]
            return (oslot[i], 0) if i < len(oslot) else (self.K, 0)
        if j == 0:
            ofirst[i] = s[0]
        if old == self._cmax[c] and old not in v:   # (a tie leaves the maximum as it is)
            self._seg_lower(c, max(v))
        if j < len(s):
            return c, j
        i = bisect_left(ofirst, s[0]) + 1            # _oindex(c) + 1 (inlined)
        return (oslot[i], 0) if i < len(oslot) else (self.K, 0)

    # ------------------------------------------------------------ checking
    def check(self) -> None:
        """Raise AugSeqError if a derived structure is stale (O(n); tests/check())."""
        K = self.K
        if K & (K - 1) or len(self.starts) != K or len(self._seg) != 2 * K:
            raise AugSeqError("slot arrays have the wrong size")
        if self._bsum != [sum(map(len, self.starts[b:b + BLOCK])) for b in range(0, K, BLOCK)]:
            raise AugSeqError("block counts are stale")
        slots = [c for c in range(K) if self.starts[c]]
        if slots != self.oslot:
            raise AugSeqError("chunk index slots are stale")
        if [self.starts[c][0] for c in slots] != self.ofirst:
            raise AugSeqError("chunk index first starts are stale")
        if sum(len(x) for x in self.starts) != self.n:
            raise AugSeqError("item count is stale")
        prev = None
        before = 0
        for c in range(K):
            s, e, v = self.starts[c], self.ends[c], self.vals[c]
            if not len(s) == len(e) == len(v) or len(s) > 2 * LOAD:
                raise AugSeqError(f"slot {c} has a bad length")
            if self._cmax[c] != (max(v) if v else _NEG):
                raise AugSeqError(f"slot {c} maximum is stale")
            for x in s:
                if prev is not None and x <= prev:
                    raise AugSeqError("starts are not strictly increasing")
                prev = x
            if self.rank(c, 0) != before:
                raise AugSeqError(f"slot {c} rank is stale")
            before += len(s)
        seg = self._seg
        if seg[K:] != self._cmax:
            raise AugSeqError("segment tree leaves are stale")
        for i in range(K - 1, 0, -1):
            if seg[i] != max(seg[2 * i], seg[2 * i + 1]):
                raise AugSeqError("segment tree is stale")
