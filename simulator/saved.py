"""A results directory's content in memory (:class:`SavedResults`) and the
deterministic writers of its tables.  A leaf of the results side: ``output``
(the directory), ``report`` and ``plots`` import it; it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass
class SavedResults:
    """A results directory read back (or about to be written)."""

    scenario: dict[str, Any]             # the resolved scenario
    ops: pd.DataFrame
    timeseries: pd.DataFrame
    summary: pd.DataFrame
    log: list[str] = field(default_factory=list)
    path: Path | None = None
    histograms: pd.DataFrame = field(default_factory=pd.DataFrame)   # stats-only runs
    points: list[tuple[str, SavedResults]] = field(default_factory=list)  # sweep points

    @property
    def name(self) -> str:
        return str(self.scenario.get("name", "?"))


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Deterministic Parquet: no index, fixed compression, no time-varying metadata."""
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    pq.write_table(table, path, compression="zstd", write_statistics=True,
                   use_dictionary=True, store_schema=True)


def write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n")


__all__ = ["SavedResults", "write_parquet", "write_csv"]
