"""Metrics of one run: per-op records, time series, streaming statistics.

Per-op records go into two ``array.array`` buffers (floats and unsigned
ints) and become one pandas DataFrame at the end (``keep_ops=True``).  In the
stats-only mode (``keep_ops=False``) no per-op record is kept: each caller
feeds log-bucketed histograms (:class:`LogHistogram`), whose percentiles are
within ``REL_ERR`` (0.5 %) of the exact nearest-rank percentile.

Percentile definition, both modes: nearest rank (the smallest latency whose
cumulative share is >= q; numpy ``method="inverted_cdf"``).

An op is *measured* when it started at or after its caller's last
``measure_start()`` (all its ops when the caller never called it); summary
statistics cover measured ops only.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

OP_NAMES = ("vmalloc", "vfree")
VMALLOC, VFREE = 0, 1
QUANTILES = (("p50_ns", 0.50), ("p90_ns", 0.90), ("p99_ns", 0.99), ("p999_ns", 0.999))
REL_ERR = 0.005

#: an op's latency split (with lock_wait_ns): sums to latency_ns (docs/engine.md)
COMPONENT_COLUMNS = ("search_ns", "objects_ns", "pages_ns", "purge_ns", "flush_ns")
_NO_COMPONENTS = (0.0, 0.0, 0.0, 0.0, 0.0)
_F_COLS = ("t_ns", "latency_ns", "lock_wait_ns", "lock_hold_ns") + COMPONENT_COLUMNS
_FLUSH_FLOATS = len(_F_COLS) * 4096      # OpLog: buffered records moved per 4,096 ops
_I_COLS = ("caller", "cpu", "op", "size_bytes", "align", "addr", "ok", "list_nodes",
           "tree_nodes", "purge")
OPS_COLUMNS = ("t_ns", "caller", "cpu", "op", "size_bytes", "align", "addr", "ok", "latency_ns",
               "lock_wait_ns", "lock_hold_ns", "list_nodes", "tree_nodes", "purge", "measured",
               *COMPONENT_COLUMNS)


class LogHistogram:
    """Streaming histogram with log buckets: relative error <= ``rel_err``.

    Bucket i holds values in (g^(i-1), g^i], g = (1+e)/(1-e); its
    representative 2 g^i / (g + 1) is within e of every value in it
    (the DDSketch construction).  Values <= 0 go to a zero bucket.
    """

    __slots__ = ("counts", "n", "total", "max", "_inv_log_g", "_g", "zeros")

    def __init__(self, rel_err: float = REL_ERR) -> None:
        self._g = (1.0 + rel_err) / (1.0 - rel_err)
        self._inv_log_g = 1.0 / math.log(self._g)
        self.counts: dict[int, int] = {}
        self.n = 0
        self.zeros = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        self.total += x
        if x > self.max:
            self.max = x
        if x <= 0.0:
            self.zeros += 1
            return
        i = math.ceil(math.log(x) * self._inv_log_g)
        c = self.counts
        c[i] = c.get(i, 0) + 1

    def merge(self, other: LogHistogram) -> None:
        self.n += other.n
        self.zeros += other.zeros
        self.total += other.total
        self.max = max(self.max, other.max)
        for i, k in other.counts.items():
            self.counts[i] = self.counts.get(i, 0) + k

    def quantile(self, q: float) -> float:
        """Nearest-rank quantile estimate (NaN when empty)."""
        if self.n == 0:
            return math.nan
        rank = nearest_rank(q, self.n)
        if rank <= self.zeros:
            return 0.0
        seen = self.zeros
        for i in sorted(self.counts):
            seen += self.counts[i]
            if seen >= rank:
                return self._value(i)
        return self.max  # pragma: no cover

    def _value(self, i: int) -> float:
        """Bucket i's representative, capped at the largest value seen."""
        return min(2.0 * self._g**i / (self._g + 1.0), self.max)

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    def buckets(self) -> list[tuple[float, int]]:
        """(representative value, count) per non-empty bucket, ascending; the
        zero bucket first as 0.0; the top bucket's value capped at ``max``."""
        out = [(0.0, self.zeros)] if self.zeros else []
        out += [(self._value(i), self.counts[i]) for i in sorted(self.counts)]
        return out


class _CallerStats:
    __slots__ = ("hist", "wait", "lock_wait_ns")

    def __init__(self) -> None:
        self.hist = (LogHistogram(), LogHistogram())     # latency per op kind
        self.wait = (LogHistogram(), LogHistogram())     # lock wait of the ops that waited
        self.lock_wait_ns = 0.0


#: stats-only mode: per sample interval latency columns of the time series
WINDOW_COLUMNS = tuple(f"{op}_{k}_ns" for op in OP_NAMES for k in ("p50", "p99", "max"))
#: stats-only mode: the histograms frame (histograms.parquet)
HISTOGRAM_COLUMNS = ("metric", "op", "caller", "value_ns", "count")


class OpLog:
    """Per-op records (``keep_ops``) or per-caller streaming statistics."""

    def __init__(self, keep_ops: bool, ncallers: int) -> None:
        self.keep_ops = keep_ops
        self.f = array("d")                               # the records, flushed (_flush)
        self.i = array("Q")
        # the latest records as Python lists: list.extend per op, array.fromlist
        # per 4,096 ops (_FLUSH_FLOATS; array.extend converts and grows item by item)
        self._fbuf: list[float] = []
        self._ibuf: list[int] = []
        self.measure_t: list[float | None] = [None] * ncallers
        self._stats = [_CallerStats() for _ in range(ncallers)]
        self._window = (LogHistogram(), LogHistogram())  # latency since the last sample
        self._count = 0                                   # stats-only mode: ops so far
        self._total_latency_ns = 0.0                      # stats-only mode: every op's latency
        self.failed: dict[tuple[int, int], int] = {}      # (size, align) -> failed vmallocs
        # one op: add(t_ns, caller, cpu, op, size_bytes, align, addr, ok, latency_ns,
        # lock_wait_ns, lock_hold_ns, list_nodes, tree_nodes, purge[, components]);
        # the mode's own method, chosen once (the hot path tests no mode)
        self.add = self._add_record if keep_ops else self._add_stats

    @property
    def count(self) -> int:
        """Ops recorded so far (measured or not)."""
        return (len(self.i) + len(self._ibuf)) // len(_I_COLS) if self.keep_ops else self._count

    @property
    def total_latency_ns(self) -> float:
        """The latencies of every op (measured or not), added one by one in
        the order of the ops (both modes: a sequential sum, not a pairwise one,
        so the float is the one a running total gives)."""
        if not self.keep_ops:
            return self._total_latency_ns
        self._flush()
        if not self.f:
            return 0.0
        lat = np.frombuffer(self.f, dtype=np.float64)[1::len(_F_COLS)]
        return float(np.cumsum(lat)[-1])      # cumsum adds sequentially (np.sum would pairwise)

    def _add_record(self, t_ns: float, caller: int, cpu: int, op: int, size_bytes: int,
                    align: int, addr: int, ok: bool, latency_ns: float, lock_wait_ns: float,
                    lock_hold_ns: float, list_nodes: int, tree_nodes: int, purge: bool,
                    components: tuple[float, float, float, float, float] = _NO_COMPONENTS) -> None:
        """``add`` with per-op records (``keep_ops``)."""
        if not ok and op == VMALLOC:
            key = (size_bytes, align)
            self.failed[key] = self.failed.get(key, 0) + 1
        fb = self._fbuf
        fb.extend((t_ns, latency_ns, lock_wait_ns, lock_hold_ns) + components)
        self._ibuf.extend((caller, cpu, op, size_bytes, align, addr, ok, list_nodes, tree_nodes, purge))
        if len(fb) >= _FLUSH_FLOATS:
            self._flush()

    def _flush(self) -> None:
        """Move the buffered records into the arrays."""
        self.f.fromlist(self._fbuf)
        self.i.fromlist(self._ibuf)
        self._fbuf.clear()
        self._ibuf.clear()

    def _add_stats(self, t_ns: float, caller: int, cpu: int, op: int, size_bytes: int,
                   align: int, addr: int, ok: bool, latency_ns: float, lock_wait_ns: float,
                   lock_hold_ns: float, list_nodes: int, tree_nodes: int, purge: bool,
                   components: tuple[float, float, float, float, float] = _NO_COMPONENTS) -> None:
        """``add`` in the stats-only mode: the histograms only."""
        self._count += 1
        self._total_latency_ns += latency_ns
        if not ok and op == VMALLOC:
            key = (size_bytes, align)
            self.failed[key] = self.failed.get(key, 0) + 1
        # LogHistogram.add of the caller's and the window's histogram, inlined (hot path;
        # one bucket index for both: same rel_err)
        st = self._stats[caller]
        h = st.hist[op]
        w = self._window[op]
        h.n += 1
        w.n += 1
        h.total += latency_ns
        w.total += latency_ns
        if latency_ns > h.max:
            h.max = latency_ns
        if latency_ns > w.max:
            w.max = latency_ns
        if latency_ns <= 0.0:
            h.zeros += 1
            w.zeros += 1
        else:
            b = math.ceil(math.log(latency_ns) * h._inv_log_g)
            c = h.counts
            c[b] = c.get(b, 0) + 1
            c = w.counts
            c[b] = c.get(b, 0) + 1
        st.lock_wait_ns += lock_wait_ns
        if lock_wait_ns > 0:
            st.wait[op].add(lock_wait_ns)

    def measure_start(self, caller: int, t_ns: float) -> None:
        self.measure_t[caller] = t_ns
        if not self.keep_ops:
            self._stats[caller] = _CallerStats()   # drop what came before the measured loop

    def take_window(self) -> tuple[float, ...]:
        """Stats-only mode: p50/p99/max latency of each op kind since the last
        call (all ops, measured or not; NaN when none), in WINDOW_COLUMNS order."""
        out: list[float] = []
        for h in self._window:
            out += [h.quantile(0.5), h.quantile(0.99), h.max if h.n else math.nan]
        self._window = (LogHistogram(), LogHistogram())
        return tuple(out)

    def histograms(self, labels: Sequence[str] | None = None) -> pd.DataFrame:
        """Stats-only mode: the measured ops' latency and lock-wait histograms
        (HISTOGRAM_COLUMNS; ``lock_wait`` counts only the ops that waited,
        ``latency`` counts every op), one set per caller (``caller``: its
        label); summing the counts of equal ``value_ns`` merges callers."""
        names = list(labels) if labels is not None else [str(i) for i in range(len(self._stats))]
        rows: list[tuple[str, str, str, float, int]] = []
        for metric in ("latency", "lock_wait"):
            for op, name in enumerate(OP_NAMES):
                for label, st in zip(names, self._stats):
                    h = (st.hist if metric == "latency" else st.wait)[op]
                    rows += [(metric, name, label, v, k) for v, k in h.buckets()]
        df = pd.DataFrame(rows, columns=list(HISTOGRAM_COLUMNS))
        df["count"] = df["count"].astype(np.int64)
        df["value_ns"] = df["value_ns"].astype(float)
        df["caller"] = pd.Categorical(df["caller"], categories=list(dict.fromkeys(names)))
        return df

    # -- conversion, once ----------------------------------------------------
    def frame(self, labels: Sequence[str]) -> pd.DataFrame:
        """The ops DataFrame (empty, with the columns, in stats-only mode)."""
        nf, ni = len(_F_COLS), len(_I_COLS)
        self._flush()
        f = np.frombuffer(self.f, dtype=np.float64).reshape(-1, nf) if self.f else np.zeros((0, nf))
        i = (np.frombuffer(self.i, dtype=np.uint64).reshape(-1, ni) if self.i
             else np.zeros((0, ni), dtype=np.uint64))
        caller = i[:, 0].astype(np.int64)
        mt = np.array([-math.inf if m is None else m for m in self.measure_t] or [0.0])
        cols = {
            "t_ns": f[:, 0],
            "caller": pd.Categorical.from_codes(caller, categories=list(labels) or ["-"]),
            "cpu": i[:, 1].astype(np.int32),
            "op": pd.Categorical.from_codes(i[:, 2].astype(np.int64), categories=list(OP_NAMES)),
            "size_bytes": i[:, 3].astype(np.int64),
            "align": i[:, 4],
            "addr": i[:, 5],
            "ok": i[:, 6].astype(bool),
            "latency_ns": f[:, 1],
            "lock_wait_ns": f[:, 2],
            "lock_hold_ns": f[:, 3],
            "list_nodes": i[:, 7].astype(np.int64),
            "tree_nodes": i[:, 8].astype(np.int64),
            "purge": i[:, 9].astype(bool),
            "measured": f[:, 0] >= mt[caller] if len(caller) else np.zeros(0, dtype=bool),
        }
        for k, name in enumerate(COMPONENT_COLUMNS, start=4):
            cols[name] = f[:, k]
        return pd.DataFrame(cols, columns=list(OPS_COLUMNS))

    def latency_stats(self, ops: pd.DataFrame | None = None, caller: int | None = None) -> dict[str, float]:
        """mean/p50/p90/p99/p999/max overall and per op kind, lock_wait_share, ops;
        of every caller, or of caller number ``caller`` only."""
        out: dict[str, float] = {}
        if self.keep_ops:
            assert ops is not None
            m = ops[ops["measured"]]
            if caller is not None:
                m = m[m["caller"].cat.codes.to_numpy() == caller]
            lat = m["latency_ns"].to_numpy()
            is_vm = (m["op"] == "vmalloc").to_numpy()
            groups = (("", lat), ("vmalloc_", lat[is_vm]), ("vfree_", lat[~is_vm]))
            for prefix, x in groups:
                out.update(_exact(prefix, x))
            total = float(lat.sum())
            out["lock_wait_share"] = float(m["lock_wait_ns"].sum()) / total if total else 0.0
            out["ops"] = int(len(m))
            return out
        vm, vf, allh = LogHistogram(), LogHistogram(), LogHistogram()
        wait = 0.0
        for st in (self._stats if caller is None else self._stats[caller:caller + 1]):
            vm.merge(st.hist[VMALLOC])
            vf.merge(st.hist[VFREE])
            wait += st.lock_wait_ns
        allh.merge(vm)
        allh.merge(vf)
        for prefix, h in (("", allh), ("vmalloc_", vm), ("vfree_", vf)):
            out[f"{prefix}mean_ns"] = h.mean
            for name, q in QUANTILES:
                out[f"{prefix}{name}"] = h.quantile(q)
            out[f"{prefix}max_ns"] = h.max if h.n else math.nan
        out["lock_wait_share"] = wait / allh.total if allh.total else 0.0
        out["ops"] = allh.n
        return out


def nearest_rank(q: float, n: int) -> int:
    """1-based nearest rank of quantile q among n values: ceil(q n), with the
    float noise of q n (0.999 * 9000 = 8990.999999999998) rounded away, so the
    exact and the streaming percentiles pick the same rank."""
    return max(1, math.ceil(round(q * n, 6)))


def _exact(prefix: str, x: np.ndarray) -> dict[str, float]:
    out = {f"{prefix}mean_ns": float(x.mean()) if len(x) else math.nan}
    xs = np.sort(x)
    for name, q in QUANTILES:
        out[f"{prefix}{name}"] = float(xs[nearest_rank(q, len(xs)) - 1]) if len(xs) else math.nan
    out[f"{prefix}max_ns"] = float(x.max()) if len(x) else math.nan
    return out


SUMMARY_COLUMNS = (
    ["allocator", "seed", "ops", "loop_time_ns", "setup_time_ns"]
    + [f"{p}{s}" for p in ("", "vmalloc_", "vfree_")
       for s in ("mean_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns")]
    + ["lock_wait_share", "spin_cpu_ns", "purges", "enomem", "failed_by_design", "final_fragmentation",
       "tlb_flushes", "sim_time_ns", "lock_acquisitions", "lock_contended"]
)


def timeseries_columns(ncpus: int) -> list[str]:
    return (["t_ns", "busy_areas", "lazy_areas", "lazy_pages", "free_blocks", "largest_free_bytes",
             "total_free_bytes", "fragmentation", "lock_utilisation"]
            + [f"spin_ns_cpu{c}" for c in range(ncpus)] + ["purges", "enomem"])


def timeseries_frame(rows: Iterable[tuple], ncpus: int, window: bool = False) -> pd.DataFrame:
    """The time series; ``window``: rows end with the WINDOW_COLUMNS (stats-only mode)."""
    cols = timeseries_columns(ncpus) + (list(WINDOW_COLUMNS) if window else [])
    df = pd.DataFrame(list(rows), columns=cols)
    for col in ("busy_areas", "lazy_areas", "lazy_pages", "free_blocks", "purges", "enomem"):
        df[col] = df[col].astype(np.int64)
    for col in ("largest_free_bytes", "total_free_bytes"):
        df[col] = df[col].astype(np.uint64)
    return df


def fragmentation(largest_free_bytes: int, total_free_bytes: int) -> float:
    """1 - largest free block / total free (0 when nothing is free)."""
    return 1.0 - largest_free_bytes / total_free_bytes if total_free_bytes else 0.0


def sample_row(t_ns: float, kernel_sample: tuple[int, int, int, int, int, int], lock_util: float,
               spin_ns: Sequence[float], purges: int, enomem: int) -> tuple:
    """One time-series row (``timeseries_columns`` order) from the kernel's
    read-outs ``(busy, lazy areas, lazy pages, free blocks, largest, total)``."""
    busy, lazy_areas, lazy_pages, free_blocks, largest, total = kernel_sample
    return (t_ns, busy, lazy_areas, lazy_pages, free_blocks, largest, total,
            fragmentation(largest, total), lock_util, *spin_ns, purges, enomem)


def run_summary(eng: Any) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], pd.DataFrame | None]:
    """The ops, time series, summary row and (stats-only) histograms of a
    finished run of ``simulator.engine.Engine`` ``eng``.

    Per lock ``L`` of the generation: ``lock_wait_share:L`` (CPU time spun on
    L, handoffs included, over the time of every vmalloc/vfree of the run,
    prefill included), ``lock_acquisitions:L``, ``lock_contended:L``,
    ``lock_utilisation:L`` (held or in handoff, over the simulated time)."""
    spec, oplog, callers = eng.spec, eng.oplog, eng.callers
    locks = eng.locks
    labels = [c.label for c in callers]
    ops = oplog.frame(labels)
    ops.insert(0, "seed", spec.seed)
    ops.insert(0, "allocator", spec.allocator)
    ts = timeseries_frame(eng.samples, spec.cpus, window=not spec.metrics.keep_ops)
    ts.insert(0, "seed", spec.seed)
    ts.insert(0, "allocator", spec.allocator)
    starts = [m for m in oplog.measure_t if m is not None]
    end = max(c.end_ns for c in callers if not c.background)
    summary: dict[str, Any] = {"allocator": spec.allocator, "seed": spec.seed}
    stats = oplog.latency_stats(ops if spec.metrics.keep_ops else None)
    summary["ops"] = stats.pop("ops")
    summary["loop_time_ns"] = end - (min(starts) if starts else 0.0)
    summary["setup_time_ns"] = min(starts) if starts else 0.0   # prefill before the loop
    fg = [(c, cs.workload) for c, cs in zip(callers, spec.callers) if not c.background]
    names = list(dict.fromkeys(w for _, w in fg))
    if len(names) > 1:               # each foreground workload's own loop time
        for w in names:
            mine = [c for c, cw in fg if cw == w]
            t0 = [m for c in mine if (m := oplog.measure_t[c.idx]) is not None]
            summary[f"loop_time_ns:{w}"] = max(c.end_ns for c in mine) - (min(t0) if t0 else 0.0)
    summary.update(stats)
    summary["spin_cpu_ns"] = float(sum(sum(lk.spin_ns) for lk in locks.values()))
    summary["purges"] = eng.purges
    summary["enomem"] = eng.enomem
    k = eng.kernel.sample()
    summary["final_fragmentation"] = fragmentation(k[4], k[5])
    summary["tlb_flushes"] = eng.tlb_flushes
    sim_ns = float(eng.env.now)
    summary["sim_time_ns"] = sim_ns
    summary["lock_acquisitions"] = sum(lk.acquisitions for lk in locks.values())
    summary["lock_contended"] = sum(lk.contended for lk in locks.values())
    op_time = oplog.total_latency_ns
    for name, lk in locks.items():
        summary[f"lock_wait_share:{name}"] = sum(lk.spin_ns) / op_time if op_time else 0.0
        summary[f"lock_acquisitions:{name}"] = lk.acquisitions
        summary[f"lock_contended:{name}"] = lk.contended
        summary[f"lock_utilisation:{name}"] = lk.busy_until(sim_ns) / sim_ns if sim_ns else 0.0
    by_design = sum(n for (size, align), n in oplog.failed.items()
                    if impossible_alignment(size, align, spec.address_space.vstart, spec.address_space.vend))
    summary["enomem"] = max(0, int(summary["enomem"]) - by_design)
    summary["failed_by_design"] = by_design
    summary.update(test_vmalloc_columns(eng.log))
    for idx, c in enumerate(callers):
        st = oplog.latency_stats(ops if spec.metrics.keep_ops else None, caller=idx)
        t_start = oplog.measure_t[idx]
        st["loop_time_ns"] = (c.end_ns - t_start) if t_start is not None and not c.background else math.nan
        for col in CALLER_COLUMNS:
            summary[f"{CALLER_PREFIX}{c.label}:{col}"] = st.get(col, math.nan)
    summary.update(eng.kernel.extras())
    hist = None
    if not spec.metrics.keep_ops:
        hist = oplog.histograms(labels)
        hist.insert(0, "seed", spec.seed)
        hist.insert(0, "allocator", spec.allocator)
    return ops, ts, summary, hist


# ------------------------------------------------------------ per caller, by design

#: per-caller summary columns (summary.csv rows with a ``caller``)
CALLER_COLUMNS = (["ops", "loop_time_ns"]
                  + [f"{p}{s}" for p in ("", "vmalloc_", "vfree_")
                     for s in ("mean_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns")]
                  + ["lock_wait_share"])
#: a run's summary dict carries caller rows as ``caller:<label>:<column>`` keys
CALLER_PREFIX = "caller:"
TEST_VMALLOC_PREFIX = "test_vmalloc:"
_SUMMARY_LINE = re.compile(
    r"Summary:\s+(?P<name>\w+)\s+passed:\s*(?P<passed>\d+)\s+failed:\s*(?P<failed>\d+)\s+"
    r"repeat:\s*\d+\s+loops:\s*\d+\s+avg:\s*(?P<avg>\d+)\s*usec")


def impossible_alignment(size_bytes: int, align: int, vstart: int, vend: int) -> bool:
    """No address of [vstart, vend) is a multiple of ``align`` with ``size_bytes``
    after it: the request fails whatever the allocator holds (by design, as
    align_shift_alloc_test's large alignments), not for lack of space."""
    if align <= 1:
        return size_bytes > vend - vstart
    first = -(-vstart // align) * align
    return first + size_bytes > vend


def test_vmalloc_columns(log: Sequence[str]) -> dict[str, float]:
    """The run log's lib/test_vmalloc.c ``Summary:`` lines as summary columns:
    ``test_vmalloc:<test>:passed`` / ``:failed`` (summed over callers) and
    ``:avg_us`` (mean over callers)."""
    acc: dict[str, list[tuple[int, int, int]]] = {}
    for line in log:
        m = _SUMMARY_LINE.search(line)
        if m:
            acc.setdefault(m["name"], []).append((int(m["passed"]), int(m["failed"]), int(m["avg"])))
    out: dict[str, float] = {}
    for name, vals in acc.items():
        out[f"{TEST_VMALLOC_PREFIX}{name}:passed"] = sum(v[0] for v in vals)
        out[f"{TEST_VMALLOC_PREFIX}{name}:failed"] = sum(v[1] for v in vals)
        out[f"{TEST_VMALLOC_PREFIX}{name}:avg_us"] = sum(v[2] for v in vals) / len(vals)
    return out


def summary_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """summary.csv: per run the run-wide row (``caller`` empty), then one row per
    caller (its ``caller:<label>:<column>`` keys as the ordinary columns)."""
    if not len(summary):
        return summary
    caller_keys = [c for c in summary.columns if c.startswith(CALLER_PREFIX)]
    base_cols = [c for c in summary.columns if c not in caller_keys]
    cols = base_cols[:2] + ["caller"] + base_cols[2:]
    rows: list[dict[str, Any]] = []
    for _, r in summary.iterrows():
        wide = {c: r[c] for c in base_cols}
        wide["caller"] = None
        rows.append(wide)
        labels = list(dict.fromkeys(k[len(CALLER_PREFIX):].rsplit(":", 1)[0] for k in caller_keys
                                    if not pd.isna(r[k]) or k.endswith(":ops")))
        for label in labels:
            row: dict[str, Any] = {base_cols[0]: r[base_cols[0]], base_cols[1]: r[base_cols[1]],
                                   "caller": label}
            for col in CALLER_COLUMNS:
                key = f"{CALLER_PREFIX}{label}:{col}"
                if key in r and not (col == "ops" and pd.isna(r[key])):
                    row[col] = r[key]
            if "ops" in row:
                rows.append(row)
    out = pd.DataFrame(rows, columns=cols)
    if "ops" in out:
        out["ops"] = out["ops"].astype("Int64")
    return out


__all__ = ["CALLER_COLUMNS", "summary_rows", "test_vmalloc_columns", "impossible_alignment",
           "LogHistogram", "OpLog", "OPS_COLUMNS", "SUMMARY_COLUMNS", "REL_ERR", "WINDOW_COLUMNS",
           "HISTOGRAM_COLUMNS",
           "timeseries_columns", "timeseries_frame", "fragmentation", "VMALLOC", "VFREE",
           "sample_row", "run_summary"]
