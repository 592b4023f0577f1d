"""Issue 13 point 6: `vmsim calibrate` submits its simulations to Dask, one pool
(one LocalCluster) for every batch of the fit, with the same profile as a serial
calibration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from simulator import runner
from simulator.cli import main

MEASURED = {
    "device": "qemu-x86", "fit": ["map_page_ns"], "iterations": 1500, "seed": 1,
    "measurements": [
        {"name": "fix", "workload": "fix_size_alloc_test", "allocator": "free-list",
         "per_iteration_us": 3.1},
        {"name": "fix-busy", "workload": "fix_size_alloc_test", "allocator": "busy-list",
         "per_iteration_us": 3.2},
    ],
}


def test_calibrate_on_one_local_cluster_equals_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(MEASURED))
    starts: list[int] = []
    maps: list[int] = []
    start, map_ = runner.Pool._start, runner.Pool.map

    def spy_start(self: runner.Pool) -> object:
        if self.client is None:
            starts.append(self.jobs)
        return start(self)

    def spy_map(self: runner.Pool, specs, *a, **kw):  # noqa: ANN001, ANN202
        maps.append(len(specs))
        return map_(self, specs, *a, **kw)
    monkeypatch.setattr(runner.Pool, "_start", spy_start)
    monkeypatch.setattr(runner.Pool, "map", spy_map)
    serial, par = tmp_path / "serial.yaml", tmp_path / "dask.yaml"
    args = ["--quiet", "--accept-poor-fit"]
    assert main(["calibrate", str(tmp_path / "m.yaml"), "--out", str(serial), "--jobs", "1", *args]) == 0
    assert starts == []                              # --jobs 1: in this process
    batches = len(maps)
    assert batches >= 3                              # start, a Jacobian column, final figures ...
    assert main(["calibrate", str(tmp_path / "m.yaml"), "--out", str(par), "--jobs", "2", *args]) == 0
    assert starts == [2]                             # one 2-worker LocalCluster for every batch
    assert len(maps) == 2 * batches
    assert serial.read_bytes() == par.read_bytes()
    capsys.readouterr()
