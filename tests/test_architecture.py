"""The one-way import graph that docs/ARCHITECTURE.md draws.

Every ``import`` of every module of ``simulator/`` and ``workloads/`` is read
with ``ast`` (top-level and inside functions alike: a lazy import is still an
arrow).  The rules:

* the graph between modules has no cycle;
* ``simulator.allocators`` imports nothing of vmsim outside itself;
* ``simulator.engine`` imports no generation, workload, allocator, scenario,
  runner, CLI or results module: only ``lock``, ``costmodel``, ``metrics``,
  ``spec``;
* a generation (``simulator.kernels``) imports no workload, scenario,
  runner, CLI or results module;
* workloads import only other workload modules and the leaf modules
  (``units``, ``kconst``) and the kernel's text formats (``vmallocinfo``,
  ``ftrace``, ``yamlsafe``);
* the config side (``scenario``, ``scenario_schema``, ``sweep``, ``devices``)
  imports no engine, runner, CLI or results module, and of the generations
  only their registry (``simulator.kernels``);
* the results side (``output``, ``report``, ``plots``, ``saved``) imports no
  engine, generation, allocator, runner or CLI module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simulator", "workloads")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[list[str]]:
    """The vmsim names each import statement of ``path`` brings in, as
    alternatives: ``from pkg import x`` is the submodule ``pkg.x`` when that
    is a module, else ``pkg`` itself."""
    me = _module_name(path)
    is_pkg = path.name == "__init__.py"
    out: list[list[str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [[a.name] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me.split(".")
                base = base if is_pkg else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out += [[f"{mod}.{a.name}", mod] for a in node.names]
    return [alts for alts in out if alts[-1].split(".")[0] in PACKAGES]


def _graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    mods = {_module_name(p): p for p in files}

    def owner(name: str) -> str | None:
        parts = name.split(".")          # the longest existing module prefix
        while parts and ".".join(parts) not in mods:
            parts.pop()
        return ".".join(parts) or None
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        edges = set()
        for alts in _imports(path):
            target = next((a for a in alts if a in mods), None) or owner(alts[-1])
            if target and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


GRAPH = _graph()


def _in(mod: str, *prefixes: str) -> bool:
    return any(mod == p or mod.startswith(p + ".") for p in prefixes)


def test_the_graph_is_read() -> None:
    # non-vacuity: the walk sees the arrows we know exist
    assert "simulator.lock" in GRAPH["simulator.engine"]
    assert "simulator.engine" in GRAPH["simulator.runner"]
    assert "simulator.kernels.linux_4_19" in GRAPH["simulator.kernels.rfc_2018"]
    assert any(_in(t, "simulator.allocators") for t in GRAPH["simulator.runner"])
    assert len(GRAPH) > 40


def test_no_import_cycle() -> None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(GRAPH.get(m, ())):
            if state.get(t) == 1:
                cycle = stack[stack.index(t):] + [t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2
    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def _violations(sources: tuple[str, ...], forbidden: tuple[str, ...],
                allowed_only: tuple[str, ...] | None = None) -> list[str]:
    bad = []
    for m, targets in GRAPH.items():
        if not _in(m, *sources):
            continue
        for t in targets:
            if _in(t, *sources):
                continue
            if _in(t, *forbidden) or (allowed_only is not None and not _in(t, *allowed_only)):
                bad.append(f"{m} -> {t}")
    return sorted(bad)


RESULTS = ("simulator.output", "simulator.report", "simulator.plots", "simulator.saved")
CONFIG = ("simulator.scenario", "simulator.scenario_schema", "simulator.sweep", "simulator.devices")


def test_allocators_import_nothing_outside_themselves() -> None:
    assert _violations(("simulator.allocators",), (), allowed_only=()) == []


def test_engine_imports_only_time_locks_costs_probes() -> None:
    assert _violations(("simulator.engine",), (), allowed_only=(
        "simulator.lock", "simulator.costmodel", "simulator.metrics", "simulator.spec")) == []


def test_generations_import_no_workload_config_or_results() -> None:
    assert _violations(("simulator.kernels",), ("workloads", "simulator.runner", "simulator.cli",
                                                *CONFIG, *RESULTS)) == []


def test_workloads_see_only_the_caller_protocol_and_leaves() -> None:
    assert _violations(("workloads",), (), allowed_only=(
        "simulator.units", "simulator.kconst", "simulator.vmallocinfo", "simulator.ftrace",
        "simulator.yamlsafe")) == []


def test_config_imports_no_model_runner_or_results() -> None:
    # the config side may read the generation registry (simulator.kernels, which
    # imports nothing), never a generation's module
    bad = _violations(CONFIG, ("simulator.engine", "simulator.runner", "simulator.cli", *RESULTS))
    bad += _generation_arrows(CONFIG)
    assert bad == []


def _generation_arrows(sources: tuple[str, ...]) -> list[str]:
    """Arrows from ``sources`` into a generation module (simulator.kernels.<x>);
    the registry (simulator.kernels itself) is allowed."""
    return [v for v in _violations(sources, ("simulator.kernels",)) if "-> simulator.kernels." in v]


def test_config_reads_the_registry_and_a_generation_arrow_is_caught() -> None:
    # non-vacuity: the config side does read the registry (allowed), and an arrow
    # to a generation module is flagged (negative control)
    assert any("simulator.kernels" in GRAPH[m] for m in GRAPH if _in(m, *CONFIG))
    GRAPH["simulator.scenario"].add("simulator.kernels.linux_6_1")
    try:
        assert _generation_arrows(CONFIG) == ["simulator.scenario -> simulator.kernels.linux_6_1"]
    finally:
        GRAPH["simulator.scenario"].discard("simulator.kernels.linux_6_1")


def test_results_import_no_model_or_runner() -> None:
    assert _violations(RESULTS, ("simulator.engine", "simulator.kernels", "simulator.allocators",
                                 "simulator.runner", "simulator.cli")) == []


def test_a_forbidden_arrow_is_caught() -> None:
    # negative control: the rule checker flags an arrow that breaks a rule
    GRAPH["simulator.engine"].add("workloads.base")
    try:
        assert _violations(("simulator.engine",), (), allowed_only=("simulator.lock",))
    finally:
        GRAPH["simulator.engine"].discard("workloads.base")
