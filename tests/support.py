"""Constants shared by the scenario and CLI tests (tests/ is on pytest's pythonpath)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

MINIMAL = """\
name: mini
device: qemu-x86
allocators: [busy-list, free-list]
callers:
  - workload: seed-test1
    cpus: 0
stop:
  iterations: 10
seeds: [1, 2]
"""

#: The project's shared data (kernel notes, the seed RFC, real /proc/vmallocinfo
#: dumps): ../shared relative to the checkout, wherever the checkout is.
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file under ../shared; the calling test is skipped (with the reason)
    when the checkout has no ../shared beside it."""
    import pytest

    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: these tests need ../shared beside the checkout ({REPO})")
    return path


def scenario_text(name: str, callers: str, *, device: str = "qemu-x86", cpus: int | None = 2,
                  allocators: str = "busy-list, free-list", rest: str = "") -> str:
    """The text of a small test scenario: the header they all share (name,
    device, cpus, allocators), ``callers`` (the YAML lines under ``callers:``)
    and ``rest`` (stop, seeds, metrics, output, sweep ...)."""
    head = f"name: {name}\ndevice: {device}\n"
    if cpus is not None:
        head += f"cpus: {cpus}\n"
    return f"{head}allocators: [{allocators}]\ncallers:\n{callers}{rest}"


def preset_text(name: str, *, cpus: int, allocators: str, loops: int, repeats: int,
                rest: str = "") -> str:
    """lib/test_vmalloc.c's preset on CPU 0 with fix_size_alloc_test and
    align_shift_alloc_test (run_test_mask 65), ``loops`` x ``repeats``."""
    return scenario_text(name, (
        "  - workload: test-vmalloc\n"
        "    cpus: 0\n"
        "    run_test_mask: 65          # fix_size_alloc_test + align_shift_alloc_test\n"
        f"    test_loop_count: {loops}\n"
        f"    test_repeat_count: {repeats}\n"), cpus=cpus, allocators=allocators, rest=rest)


#: two callers: seed-test2 (prefilled) on CPU 0, random_size_alloc_test on CPU 1
SEED2_AND_RANDOM_CALLERS = """\
  - workload: seed-test2
    cpus: 0
    prefill: 200
  - workload: random_size_alloc_test
    cpus: 1
"""

#: the ``output:`` block of a scenario that draws no plots
NO_PLOTS = "output:\n  plots: false\n"

#: one random_size_alloc_test caller on CPUs 0 and 1
RANDOM_SIZE_ON_CPUS_0_1 = """\
  - workload: random_size_alloc_test
    cpus: [0, 1]
"""

#: one measured random caller on CPU 0
RANDOM_MEASURED_CPU0 = """\
  - workload: random
    cpus: 0
    measure: true
"""
