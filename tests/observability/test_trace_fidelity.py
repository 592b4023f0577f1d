"""Issue 13 point 4: trace fidelity.

A trace from a lowest-fit kernel (5.2+) is replayed from the layout it
started from.  By hand (8 MiB arm32 vmalloc area V0..V1, 4 KiB pages, no
guard page; the layout holds a module area, [V0+1p, V0+3p), and a fixmap
area above the range):

* line A allocates 2 pages: the 1-page hole at V0 is too small, so it goes
  to V0+3p in every generation;
* line B allocates 1 page: a lowest-fit allocator (linux-5.2) puts it in the
  hole at V0, as the trace says; Linux 4.19's busy list searches on from its
  cached area (1 page is not smaller than cached_hole_size = 1 page), after
  A, at V0+5p: the first divergence.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from .conftest import vmsim

P = 4096
V0, V1 = 0xF0800000, 0xF1000000


def _alloc(t: float, va: int, size: int) -> str:
    return (f"  test-1  [000] .....  {t:.6f}: alloc_vmap_area: va_start: {va} size={size} "
            f"align=1 vstart={V0:#x} vend={V1:#x} failed=0\n")


def _free(t: float, va: int) -> str:
    return (f"  test-1  [000] .....  {t:.6f}: free_vmap_area_noflush: va_start={va:#x} "
            "nr_lazy=1 nr_lazy_max=32\n")


LAYOUT = ("0xbf000000-0xbf03d000  249856 module_alloc+0x14/0x64 pages=60 vmalloc\n"
          f"{V0 + P:#x}-{V0 + 3 * P:#x}    8192 driver_probe+0x10/0x20 pages=1 vmalloc\n"
          "0xff000000-0xff002000    8192 fixmap_remap+0x10/0x20 ioremap\n")
TRACE = ("# tracer: nop\n" + _alloc(0.000100, V0 + 3 * P, 2 * P) + _alloc(0.000200, V0, P))


def _scenario(layout: str = "start.vmallocinfo") -> dict:
    return {"name": "fidelity", "device": "embedded-arm32", "cpus": 1,
            "allocators": ["linux-4.19", "linux-5.2"],
            "address_space": {"vmalloc": {"start": V0, "end": V1}, "initial_layout": layout},
            "callers": [{"workload": "trace-replay", "cpus": 0, "trace": "vmalloc.trace",
                         "timing": "back-to-back", "guard": False}],
            "stop": {"time": "1 s"}, "seeds": [1], "output": {"plots": False}}


def test_replay_reports_share_first_divergence_and_initial_areas(tmp_path: Path) -> None:
    (tmp_path / "vmalloc.trace").write_text(TRACE)
    (tmp_path / "start.vmallocinfo").write_text(LAYOUT)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(_scenario()))
    r = vmsim("run", "s.yaml", "--out", "r", "--quiet", "--jobs", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # the fixmap area lies above the range (modules + vmalloc): one warning line, two loaded
    warn = [ln for ln in r.stderr.splitlines() if ln.startswith("vmsim: warning:")]
    assert len(warn) == 1 and "1 of its 3 areas lie outside" in warn[0] and "2 areas loaded" in warn[0]
    s = pd.read_csv(tmp_path / "r" / "summary.csv")
    wide = s[s["caller"].isna()].set_index("allocator")
    assert wide.loc["linux-5.2", "trace:allocs"] == 2
    assert wide.loc["linux-5.2", "trace:va_start_matches"] == 2
    assert wide.loc["linux-5.2", "trace:va_start_match_share"] == 1.0
    assert wide.loc["linux-5.2", "trace:first_divergence"] == "none"
    assert wide.loc["linux-4.19", "trace:va_start_match_share"] == 0.5
    assert wide.loc["linux-4.19", "trace:first_divergence"] == \
        f"vmalloc.trace:3 t=200000 traced {V0:#x} simulated {V0 + 5 * P:#x}"
    assert (wide["trace:initial_areas"] == 2).all()
    report = (tmp_path / "r" / "report.md").read_text()
    assert "## Trace fidelity" in report
    assert f"| linux-4.19 | 1 | 2 | 50.00% | vmalloc.trace:3 t=200000 traced {V0:#x} simulated " \
           f"{V0 + 5 * P:#x} | 2 |" in report
    assert "| linux-5.2 | 1 | 2 | 100.00% | none | 2 |" in report


def test_trace_check_says_whether_the_layout_fits(tmp_path: Path) -> None:
    # the trace frees the layout's area (allocated before the trace): it must be in the layout
    (tmp_path / "vmalloc.trace").write_text(TRACE + _free(0.000300, V0 + P))
    (tmp_path / "start.vmallocinfo").write_text(LAYOUT)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(_scenario()))
    ok = vmsim("trace-check", "vmalloc.trace", "--layout", "start.vmallocinfo", "--scenario",
               "s.yaml", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines()[-1].startswith("ok:")
    assert "1 frees of areas allocated before the trace (1 found in the layout, 0 not)" in ok.stdout
    assert "1 layout areas outside the range" in ok.stdout
    # a layout taken later: it holds line A's area (and not the one the trace frees)
    (tmp_path / "late.vmallocinfo").write_text(
        f"{V0 + 3 * P:#x}-{V0 + 5 * P:#x}    8192 driver_probe+0x10/0x20 pages=1 vmalloc\n")
    bad = vmsim("trace-check", "vmalloc.trace", "--layout", "late.vmallocinfo", cwd=tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    out = bad.stdout
    assert "clash: vmalloc.trace:2 allocates" in out and "missing: vmalloc.trace:4 frees" in out
    assert out.splitlines()[-1].startswith("mismatch:")
