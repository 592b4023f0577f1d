"""benchmarks.versus reads cachegrind's summary (a real one, captured from
``valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes true``)."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.versus import SNIPPET, cycle_estimate, median_ci95, parse_cachegrind

ROOT = Path(__file__).resolve().parents[2]
MEASURING = SNIPPET.splitlines()[1].encode()    # the first line of the measuring program

CACHE_SIM = """\
==8744== Cachegrind, a cache and branch-prediction profiler
==8744==
==8744== I   refs:      127,769
==8744== I1  misses:      1,091
==8744== LLi misses:      1,072
==8744== I1  miss rate:    0.85%
==8744== LLi miss rate:    0.84%
==8744==
==8744== D   refs:       39,669  (29,403 rd   + 10,266 wr)
==8744== D1  misses:      1,568  ( 1,224 rd   +    344 wr)
==8744== LLd misses:      1,327  ( 1,015 rd   +    312 wr)
==8744== D1  miss rate:     4.0% (   4.2%     +    3.4%  )
==8744==
==8744== Branches:       25,624  (25,345 cond +    279 ind)
==8744== Mispredicts:     3,311  ( 3,161 cond +    150 ind)
==8744== Mispred rate:     12.9% (  12.5%     +   53.8%   )
"""


def test_totals_of_each_counter_not_the_rates() -> None:
    assert parse_cachegrind(CACHE_SIM) == {"I refs": 127_769, "I1 misses": 1_091,
                                           "D1 misses": 1_568, "LLi misses": 1_072,
                                           "LLd misses": 1_327, "Mispredicts": 3_311}


def test_cycle_estimate_weighs_misses_as_kcachegrind_does() -> None:
    # Ir + 10 (I1 + D1 misses + mispredicts) + 100 (LL misses), by hand
    assert cycle_estimate(parse_cachegrind(CACHE_SIM)) == (
        127_769 + 10 * (1_091 + 1_568 + 3_311) + 100 * (1_072 + 1_327))
    base = {"I refs": 1000, "I1 misses": 0, "D1 misses": 0, "LLi misses": 0, "LLd misses": 0,
            "Mispredicts": 0}
    assert cycle_estimate(base) == 1000                      # no miss: the instructions
    assert cycle_estimate({**base, "D1 misses": 1}) == 1010            # a first-level miss: 10
    assert cycle_estimate({**base, "LLd misses": 1}) == 1100           # a last-level miss: 100
    assert cycle_estimate({**base, "Mispredicts": 2}) == 1020


def test_median_interval_is_the_published_order_statistics() -> None:
    # Altman, Machin, Bryant & Gardner, "Statistics with Confidence" (2nd ed.,
    # BMJ Books 2000), table 18.4: ranks of the 95 % interval of a median
    published = {6: (1, 6), 10: (2, 9), 15: (4, 12), 20: (6, 15), 25: (8, 18), 30: (10, 21)}
    for n, (lo, hi) in published.items():
        assert median_ci95([float(x) for x in range(1, n + 1)]) == (lo, hi)


def test_median_interval_covers_95_percent_and_no_narrower_one_does() -> None:
    from scipy.stats import binom
    for n in range(6, 60):
        xs = [float(x) for x in range(n, 0, -1)]         # unsorted: it sorts
        ci = median_ci95(xs)
        assert ci is not None
        k = int(ci[0])                                   # the values are their ranks
        assert ci[1] == n + 1 - k
        assert 1 - 2 * binom.cdf(k - 1, n, 0.5) >= 0.95
        assert 1 - 2 * binom.cdf(k, n, 0.5) < 0.95      # the next ranks in would not


def test_no_median_interval_below_six_rounds() -> None:
    for n in range(0, 6):                                # [min, max] of 5 covers 93.75 %
        assert median_ci95([1.0] * n) is None


def test_without_cache_simulation_only_instructions() -> None:
    assert parse_cachegrind("==1== \n==1== I refs:      2,723,209,807\n") == {"I refs": 2_723_209_807}


def _worktrees(root: Path) -> set[str]:
    out = subprocess.run(["git", "worktree", "list", "--porcelain"], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    return {line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")}


def _running_in(path: str, marker: bytes = b"") -> list[int]:
    """The processes whose working directory is ``path`` or below and whose
    command line holds ``marker`` (Linux /proc)."""
    pids = []
    for d in Path("/proc").iterdir():
        try:
            if (d.name.isdigit() and os.readlink(d / "cwd").startswith(path)
                    and marker in (d / "cmdline").read_bytes()):
                pids.append(int(d.name))
        except OSError:
            continue
    return pids


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists()
                    or not Path("/proc/self/cwd").exists(), reason="needs a git checkout and /proc")
def test_a_stopped_run_kills_its_measuring_process_and_removes_its_worktree() -> None:
    before = _worktrees(ROOT)
    p = subprocess.Popen([sys.executable, "-m", "benchmarks.versus", "HEAD", "--rounds", "1"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while _worktrees(ROOT) == before:            # non-vacuity: it did make a worktree
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.1)
    (added,) = _worktrees(ROOT) - before
    while not _running_in(added, MEASURING):     # the measuring process, in the worktree
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    assert _worktrees(ROOT) == before and not Path(added).exists()
    time.sleep(0.5)
    assert not _running_in(added)                # the measuring process was killed
