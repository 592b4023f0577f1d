"""Size and duration distributions for workload parameters.

A distribution is written in YAML as a mapping with a ``kind``, or as a plain
value (shorthand for ``kind: fixed``)::

    size: 3 pages                                   # fixed
    size: {kind: uniform, low: 1 page, high: 100 pages}
    size: {kind: lognormal, median: 48 KiB, sigma: 1.6}
    size: {kind: empirical, file: ../shared/data/vmallocinfo-arm32-zynq.txt}
    lifetime: {kind: exponential, mean: 20 ms}
    lifetime: forever                               # never freed

Every draw comes from the caller's own ``numpy.random.Generator``; the draw
sequence is fixed by the parameters, so a seed gives the same stream.

Sizes are returned as page multiples (rounded up, at least one page): they are
what the kernel caller asks vmalloc for, without the guard page.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, TypeAdapter,
                      ValidationInfo, field_validator, model_validator)

from simulator.units import Bytes, DurationNs, PageBytes

__all__ = ["SizeDist", "DurationDist", "SizeDistribution", "DurationDistribution", "size_dist",
           "duration_dist"]


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _round_pages(n_bytes: float, page_size: int) -> int:
    pages = max(1, math.ceil(n_bytes / page_size))
    return pages * page_size


# --------------------------------------------------------------------- sizes
class FixedSize(_Dist):
    """Always ``value`` bytes (a page multiple)."""

    kind: Literal["fixed"] = "fixed"
    value_bytes: PageBytes = Field(alias="value")
    model_config = ConfigDict(populate_by_name=True)

    def sample(self, rng: np.random.Generator, page_size: int) -> int:
        return self.value_bytes


class UniformSize(_Dist):
    """A whole number of pages, uniform in [low, high] (both included)."""

    kind: Literal["uniform"]
    low_bytes: PageBytes = Field(alias="low")
    high_bytes: PageBytes = Field(alias="high")
    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self) -> UniformSize:
        if self.high_bytes < self.low_bytes:
            raise ValueError("uniform: high must be >= low")
        return self

    def sample(self, rng: np.random.Generator, page_size: int) -> int:
        lo, hi = self.low_bytes // page_size, self.high_bytes // page_size
        return int(rng.integers(lo, hi + 1)) * page_size


class LognormalSize(_Dist):
    """exp(N(ln median, sigma)) bytes, rounded up to pages, capped at ``max``."""

    kind: Literal["lognormal"]
    median_bytes: Bytes = Field(alias="median")
    sigma: float = Field(ge=0.0)
    max_bytes: PageBytes | None = Field(None, alias="max")
    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _positive(self) -> LognormalSize:
        if self.median_bytes <= 0:
            raise ValueError("lognormal: median must be > 0")
        return self

    def sample(self, rng: np.random.Generator, page_size: int) -> int:
        x = float(rng.lognormal(math.log(self.median_bytes), self.sigma))
        n = _round_pages(x, page_size)
        if self.max_bytes is not None:
            n = min(n, self.max_bytes)
        return n


def resolve_path(value: str, info: ValidationInfo) -> str:
    """A file parameter: relative to the validation context's ``base_dir`` (the
    scenario file's directory) when given, returned absolute."""
    path = Path(value)
    ctx = info.context if isinstance(info.context, dict) else {}
    if not path.is_absolute() and ctx.get("base_dir"):
        path = Path(ctx["base_dir"]) / path
    return str(path.resolve())


class EmpiricalSize(_Dist):
    """Sizes drawn (with replacement) from the areas of a /proc/vmallocinfo file.

    ``file`` is resolved against the validation context's ``base_dir`` (the
    scenario file's directory) when relative.  ``kinds`` keeps only areas with
    one of these flags (e.g. ``[vmalloc]``); sizes exclude the guard page
    (see :func:`simulator.vmallocinfo.size_distribution`).
    """

    kind: Literal["empirical"]
    file: str
    kinds: tuple[str, ...] | None = None
    _sizes: tuple[int, ...] = PrivateAttr(default=())

    @field_validator("file")
    @classmethod
    def _absolute(cls, v: str, info: ValidationInfo) -> str:
        """Relative to the scenario file; kept absolute, so that the resolved
        scenario saved with the results runs from anywhere."""
        return resolve_path(v, info)

    @model_validator(mode="after")
    def _load(self, info: ValidationInfo) -> EmpiricalSize:
        from simulator.vmallocinfo import parse_vmallocinfo, size_distribution

        path = Path(self.file)
        ctx = info.context if isinstance(info.context, dict) else {}
        page = ctx.get("page_size", 4096) if isinstance(ctx.get("page_size"), int) else 4096
        vinfo = parse_vmallocinfo(path, page_size=page)  # VmallocinfoError is a ValueError
        sizes = size_distribution(vinfo, kinds=self.kinds)
        if sizes.size == 0:
            raise ValueError(f"empirical: no areas in {path} match kinds {list(self.kinds or [])}")
        self._sizes = tuple(int(x) for x in sizes)   # a tuple: models compare with ==
        return self

    def sample(self, rng: np.random.Generator, page_size: int) -> int:
        n = int(self._sizes[int(rng.integers(0, len(self._sizes)))])
        return _round_pages(n, page_size)


def _size_shorthand(value: Any) -> Any:
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return {"kind": "fixed", "value": value}
    return value


SizeDistribution = Annotated[
    Union[FixedSize, UniformSize, LognormalSize, EmpiricalSize],
    Field(discriminator="kind"),
]


# ----------------------------------------------------------------- durations
class FixedDuration(_Dist):
    kind: Literal["fixed"] = "fixed"
    value_ns: DurationNs = Field(alias="value")
    model_config = ConfigDict(populate_by_name=True)

    def sample(self, rng: np.random.Generator) -> int | None:
        return self.value_ns


class ForeverDuration(_Dist):
    """Never ends (an area that is never freed)."""

    kind: Literal["forever"]

    def sample(self, rng: np.random.Generator) -> int | None:
        return None


class UniformDuration(_Dist):
    kind: Literal["uniform"]
    low_ns: DurationNs = Field(alias="low")
    high_ns: DurationNs = Field(alias="high")
    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self) -> UniformDuration:
        if self.high_ns < self.low_ns:
            raise ValueError("uniform: high must be >= low")
        return self

    def sample(self, rng: np.random.Generator) -> int | None:
        return int(rng.integers(self.low_ns, self.high_ns + 1))


class ExponentialDuration(_Dist):
    """Exponential with the given mean (memoryless: Poisson arrivals)."""

    kind: Literal["exponential"]
    mean_ns: DurationNs = Field(alias="mean")
    model_config = ConfigDict(populate_by_name=True)

    def sample(self, rng: np.random.Generator) -> int | None:
        return int(round(rng.exponential(self.mean_ns))) if self.mean_ns else 0


class LognormalDuration(_Dist):
    kind: Literal["lognormal"]
    median_ns: DurationNs = Field(alias="median")
    sigma: float = Field(ge=0.0)
    model_config = ConfigDict(populate_by_name=True)

    def sample(self, rng: np.random.Generator) -> int | None:
        if self.median_ns == 0:
            return 0
        return int(round(rng.lognormal(math.log(self.median_ns), self.sigma)))


def _duration_shorthand(value: Any) -> Any:
    if value == "forever":
        return {"kind": "forever"}
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return {"kind": "fixed", "value": value}
    return value


DurationDistribution = Annotated[
    Union[FixedDuration, ForeverDuration, UniformDuration, ExponentialDuration, LognormalDuration],
    Field(discriminator="kind"),
]


# Shorthand-aware field types for params models.
SizeDist = Annotated[SizeDistribution, BeforeValidator(_size_shorthand)]
DurationDist = Annotated[DurationDistribution, BeforeValidator(_duration_shorthand)]

_SIZE_ADAPTER: TypeAdapter[Any] = TypeAdapter(SizeDist)
_DURATION_ADAPTER: TypeAdapter[Any] = TypeAdapter(DurationDist)


def size_dist(value: Any, page_size: int = 4096, base_dir: str | None = None) -> Any:
    """A size distribution from YAML-like input (for defaults and tests)."""
    return _SIZE_ADAPTER.validate_python(
        value, context={"page_size": page_size, "base_dir": base_dir})


def duration_dist(value: Any) -> Any:
    """A duration distribution from YAML-like input (for defaults and tests)."""
    return _DURATION_ADAPTER.validate_python(value)
