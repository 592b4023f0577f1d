"""The scenario schema: pydantic models of a scenario file, and its JSON Schema.

``simulator.scenario`` validates a file against :class:`ScenarioConfig` and
resolves it; ``vmsim schema`` prints :func:`json_schema` (caller items expanded
per workload, so editors can complete every workload parameter).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator,
                      model_validator)

from . import units
from .yamlsafe import format_path

AddressField = units.Address
DurationField = units.DurationNs
_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9._=+-]*$"
PAGE_SIZES = (4096, 16384, 65536)


class ScenarioError(ValueError):
    """A scenario that cannot be accepted; ``str()`` is one line naming file and YAML path."""

    def __init__(self, source: str, loc: tuple[Any, ...] | None, message: str) -> None:
        self.source, self.loc, self.message = source, loc, " ".join(message.split())
        where = f"{format_path(loc)}: " if loc else ""
        super().__init__(f"{source}: {where}{self.message}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RangeConfig(_Model):
    """An address range [start, end)."""

    start: AddressField
    end: AddressField

    @model_validator(mode="after")
    def _ordered(self) -> RangeConfig:
        if self.end <= self.start:
            raise ValueError(f"end must be above start (got start={self.start:#x}, end={self.end:#x})")
        return self


class DeviceConfig(_Model):
    """A device profile (a name, or a profile file's path) and overrides of its parameters."""

    profile: str = Field(description="a device profile name (`vmsim list` shows them; `--devices DIR` "
                                     "adds more) or the path of a profile file, relative to this "
                                     "scenario file")
    overrides: dict[str, Any] = Field(default_factory=dict,
                                      description="profile parameters to replace")
    cost: dict[str, Any] | None = Field(None, description=(
        "the complete cost table a run used, as `vmsim run` saves it with the results: when "
        "given it replaces the profile file's values (then `overrides` apply), so the saved "
        "scenario reproduces its results even after the profile file changes"))

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"profile": data} if isinstance(data, str) else data


class AddressSpaceConfig(_Model):
    """The address space; every key defaults to the device profile's."""

    vmalloc: RangeConfig | None = Field(None, description="VMALLOC_START..VMALLOC_END")
    modules: RangeConfig | None = Field(None, description="MODULES_VADDR..MODULES_END, or null for none")
    page_size: StrictInt | None = Field(None, description=f"one of {PAGE_SIZES}")
    word_bits: Literal[32, 64] | None = None
    initial_layout: str | None = Field(
        None, description="a /proc/vmallocinfo file (relative to this scenario file) "
                          "whose areas start busy")

    @field_validator("page_size")
    @classmethod
    def _page(cls, v: int | None) -> int | None:
        if v is not None and v not in PAGE_SIZES:
            raise ValueError(f"must be one of {', '.join(map(str, PAGE_SIZES))} (got {v})")
        return v


class CallerConfig(BaseModel):
    """A caller: a workload on some CPUs; the workload's parameters sit inline."""

    model_config = ConfigDict(extra="allow", frozen=True)
    workload: str = Field(description="a workload name; `vmsim list` shows them")
    cpus: StrictInt | list[StrictInt] | Literal["all"] = Field(
        0, description="a CPU, a list of CPUs (one caller each), 'all', or a range string "
                       "such as '0-31' or '0-3,8'")

    @field_validator("cpus", mode="before")
    @classmethod
    def _cpu_ranges(cls, v: Any) -> Any:
        """``"0-31"``, ``"0-3,8"``: CPU ranges as in /sys/devices/system/cpu/online."""
        return parse_cpu_ranges(v) if isinstance(v, str) and v != "all" else v
    background: StrictBool = Field(False, description="background callers do not keep the run alive")
    name: str | None = Field(None, description="label in metrics (default <workload>@cpu<N>)")


COMMON_CALLER_KEYS = ("workload", "cpus", "background", "name")


def parse_cpu_ranges(text: str) -> list[int]:
    """``"0-3,8"`` -> [0, 1, 2, 3, 8] (the kernel's cpulist format); ValueError otherwise."""
    out: list[int] = []
    for part in text.replace(" ", "").split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(f"not a CPU list such as 0-31 or 0-3,8 (got {text!r})")
        a, b = int(lo), int(hi) if sep else int(lo)
        if b < a:
            raise ValueError(f"CPU range {part!r} runs backwards (got {text!r})")
        if b - a > 65536:
            raise ValueError(f"CPU range {part!r} is too long (got {text!r})")
        out += range(a, b + 1)
    return out


class StopConfig(_Model):
    """When a run stops: after `iterations` per foreground caller, or at simulated `time`."""

    iterations: StrictInt | None = Field(None, gt=0, le=10**12)
    time: DurationField | None = None

    @model_validator(mode="after")
    def _one(self) -> StopConfig:
        if self.iterations is None and self.time is None:
            raise ValueError("give iterations, time, or both")
        if self.time == 0:
            raise ValueError("time must be positive (got 0)")
        return self


class MetricsConfig(_Model):
    sample_interval: DurationField = Field(1_000_000, description="time-series sampling period")
    keep_ops: StrictBool = Field(True, description="keep one record per operation (ops.parquet)")
    check_every: StrictInt = Field(
        65_536, ge=0, description="self-check the allocator state and the engine's conservation "
                                  "every N operations (at the next sample; 0: only at the end)")

    @field_validator("sample_interval")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0:
            raise ValueError(f"must be a positive time (got {v})")
        return v


class OutputConfig(_Model):
    dir: str | None = Field(None, description="results directory (default results/<name>)")
    plots: StrictBool = True


class KernelConfig(_Model):
    """Kernel options of the modelled paths."""

    guard_page: StrictBool = Field(True, description="vmalloc adds one guard page (no VM_NO_GUARD)")
    purge_priority_threshold: StrictBool | None = Field(
        None, description="2019 rule: no lock break while the lazy backlog > 2 x lazy_max_pages; "
                          "default: the generation's kernel (off for linux-4.19 and rfc-2018, "
                          "on from linux-5.2)")


class ScenarioConfig(_Model):
    """A vmsim scenario file."""

    name: str = Field(pattern=_NAME_RE, max_length=100)
    description: str = ""
    device: DeviceConfig
    cpus: StrictInt | None = Field(None, ge=1, le=4096, description="default: the device profile's")
    address_space: AddressSpaceConfig = AddressSpaceConfig()
    allocators: list[str] | None = Field(None, min_length=1, description="default: all")
    callers: list[CallerConfig] = Field(min_length=1)
    stop: StopConfig = Field(default_factory=lambda: StopConfig.model_construct(iterations=None, time=None),
                             description="optional when every foreground workload ends by itself "
                                         "(the test-vmalloc preset, a lib/test_vmalloc.c case)")
    seeds: list[Annotated[StrictInt, Field(ge=0, lt=2**63)]] = Field([1], min_length=1)
    metrics: MetricsConfig = MetricsConfig()
    kernel: KernelConfig = KernelConfig()
    output: OutputConfig = OutputConfig()
    sweep: dict[str, list[Any]] | None = Field(
        None, description="one dotted path (e.g. cpus, callers[0].size) -> a list of values")

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        """An empty section (``metrics:`` with nothing under it) takes the defaults."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items()
                    if not (v is None and k in ("address_space", "metrics", "kernel", "output"))}
        return data

    @field_validator("seeds")
    @classmethod
    def _unique(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct (got {v})")
        return v

    @field_validator("sweep")
    @classmethod
    def _one_key(cls, v: dict[str, list[Any]] | None) -> dict[str, list[Any]] | None:
        if v is not None and (len(v) != 1 or not next(iter(v.values()))):
            raise ValueError("give exactly one path with a non-empty list of values")
        return v


def _workloads() -> dict[str, Any]:
    import workloads
    return workloads.REGISTRY


# ------------------------------------------------------------------ JSON schema

def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files, caller items expanded per workload."""
    schema = ScenarioConfig.model_json_schema()
    defs = schema.setdefault("$defs", {})
    caller = defs.get("CallerConfig", {})
    variants = []
    for name, wl in sorted(_workloads().items()):
        ps = wl.params.model_json_schema(by_alias=True)
        for k, v in ps.pop("$defs", {}).items():
            defs.setdefault(k, v)
        props = {k: v for k, v in caller.get("properties", {}).items()}
        if "cpus" in props and "anyOf" in props["cpus"]:          # "0-31", "0-3,8" (cpulist)
            props["cpus"] = dict(props["cpus"], anyOf=[*props["cpus"]["anyOf"], {
                "type": "string", "pattern": r"^\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*$"}])
        props["workload"] = {"const": name, "description": wl.description}
        props.update(ps.get("properties", {}))
        variants.append({"type": "object", "title": f"caller: {name}", "description": wl.description,
                         "properties": props, "required": ["workload"] + list(ps.get("required", [])),
                         "additionalProperties": False})
    if variants:
        defs["CallerConfig"] = {"title": "CallerConfig", "anyOf": variants}
    # `device: NAME` is short for `device: {profile: NAME}`
    device = schema["properties"]["device"]
    schema["properties"]["device"] = {"anyOf": [{"type": "string", "description": "a device profile name"},
                                                {k: v for k, v in device.items() if k != "description"}],
                                      "description": device.get("description", "the device profile")}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


__all__ = ["ScenarioConfig", "ScenarioError", "json_schema", "PAGE_SIZES"]
