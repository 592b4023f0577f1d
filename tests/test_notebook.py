"""The notebook runs top to bottom on a small fresh run (so it cannot rot)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from simulator.cli import main
from support import SEED2_AND_RANDOM_CALLERS, scenario_text

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "compare-allocators.ipynb"

SMALL = scenario_text("notebook-small", SEED2_AND_RANDOM_CALLERS,
                      rest="stop:\n  iterations: 100\nseeds: [1]\n")


@pytest.mark.slow            # a Jupyter kernel and a run: about 25 s
def test_notebook_executes_on_a_small_run(tmp_path, monkeypatch):
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL)
    out = tmp_path / "results"
    try:
        import simulator.runner  # noqa: F401
    except ImportError:
        pytest.skip("simulator.runner has not landed yet")
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    nb = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("VMSIM_RESULTS", str(out))
    monkeypatch.delenv("MPLBACKEND", raising=False)     # the kernel's own inline backend
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert "scenario notebook-small" in text and "busy-list vs free-list" in text
    # every plot cell drew its figure inline (an image/png output), and only once
    plot_cells = [c for c in nb.cells if c.cell_type == "code" and "_figure(saved)" in c.source]
    assert len(plot_cells) == 4
    for c in plot_cells:
        images = [o for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        assert len(images) == 1, c.source
    # the caller column is shown: the per-caller table names both callers
    html = "".join(o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert "seed-test2@cpu0" in html and "random_size_alloc_test@cpu1" in html
    assert os.environ["VMSIM_RESULTS"] == str(out)
