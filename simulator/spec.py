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
    check_every: int = 65_536             # self-check the kernel state every N ops (0: never)


@dataclass(frozen=True)
class RunSpec:
    """Everything one run needs; results depend on nothing else."""

    scenario: str                    # scenario name (labels plots and reports)
    allocator: str                   # a kernel generation (simulator.kernels) or an old policy alias
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
    # 2019 rule: no lock break while backlog > 2 x lazy_max_pages; None: the generation's default
    purge_priority_threshold: bool | None = None

    def __post_init__(self) -> None:
        """The run's shape (what the scenario layer also checks, with YAML paths)."""
        if self.cpus < 1:
            raise ValueError(f"cpus must be >= 1 (got {self.cpus})")
        if not self.callers:
            raise ValueError("a run needs at least one caller")
        if all(c.background for c in self.callers):
            raise ValueError("a run needs at least one foreground (background: false) caller")
        used: dict[int, str] = {}
        for c in self.callers:
            if not 0 <= c.cpu < self.cpus:
                raise ValueError(f"caller {c.label}: cpu {c.cpu} is not in 0..{self.cpus - 1}")
            if c.cpu in used:
                raise ValueError(f"callers {used[c.cpu]} and {c.label} are both on cpu {c.cpu}: "
                                 "one caller per CPU (no CPU sharing is modelled)")
            used[c.cpu] = c.label

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
