"""RunSpec: one fully resolved simulation run (one allocator x one seed).

This is the contract between scenario loading (``simulator.scenario``), which
turns a YAML file into a list of RunSpecs, and the engine
(``simulator.engine.simulate``), which runs one RunSpec.  Everything here is a
plain frozen dataclass of ints, strings and dicts, so a RunSpec pickles to a
worker process and its ``as_dict`` is what gets saved with results.

Units are in the names: ``_ns`` nanoseconds, ``_bytes`` bytes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class AddressSpace:
    """The allocator's range, its vmalloc sub-range and the modules range."""

    vstart: int                      # whole range the allocator manages
    vend: int
    vmalloc_start: int               # VMALLOC_START
    vmalloc_end: int                 # VMALLOC_END
    modules_start: int | None = None  # MODULES_VADDR (module_alloc's vstart), if any
    modules_end: int | None = None
    page_size: int = 4096
    word_bits: int = 64              # 32 for 32-bit ARM: address arithmetic wraps there
    initial_busy: tuple[tuple[int, int], ...] = ()  # (start, end) busy at boot


@dataclass(frozen=True)
class CallerSpec:
    """One caller: a workload bound to one CPU."""

    workload: str                    # a name registered in workloads.REGISTRY
    cpu: int                         # 0 .. cpus-1
    params: dict[str, Any] = field(default_factory=dict)  # validated by the workload's Params model
    background: bool = False         # background callers do not keep the run alive
    name: str = ""                   # label in metrics; default "<workload>@cpu<N>"

    @property
    def label(self) -> str:
        return self.name or f"{self.workload}@cpu{self.cpu}"


@dataclass(frozen=True)
class MetricsSpec:
    sample_interval_ns: int = 1_000_000   # time-series sampling period (simulated)
    keep_ops: bool = True                 # False: stats-only mode (streaming histograms)


@dataclass(frozen=True)
class RunSpec:
    """Everything one run needs; results depend on nothing else."""

    scenario: str                    # scenario name (labels plots and reports)
    allocator: str                   # a name in simulator.allocators.ALLOCATORS
    seed: int
    cpus: int
    device: str                      # device profile name (for labels)
    cost: dict[str, Any]             # load_device(...)['cost']: what CostModel(cost, cpus) takes
    address_space: AddressSpace
    callers: tuple[CallerSpec, ...]
    iterations: int | None = None    # stop: measured iterations per foreground caller
    time_ns: int | None = None       # stop: simulated time limit
    metrics: MetricsSpec = MetricsSpec()
    guard_page: bool = True          # vmalloc adds one guard page unless VM_NO_GUARD
    purge_priority_threshold: bool = False  # 2019 rule: no lock break while backlog > 2 x lazy_max_pages

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
