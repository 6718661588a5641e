"""The import graph is the architecture: each module imports only its own layer and those below.

Type-only imports (under ``TYPE_CHECKING``) and imports inside functions count too: a cycle
hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "crawler"

# Lowest first. A module may import modules of its own layer or a lower one, never a higher one.
LAYERS: list[tuple[str, set[str]]] = [
    ("values", {"version", "errors", "models", "urls", "config", "http_settings"}),
    ("decisions", {"robots", "policy", "retry", "sitemaps", "parsing", "slots", "outbound", "cookies", "linkcheck"}),
    ("storage", {"frontier", "fingerprints", "stores"}),
    ("fetchers", {"fetchers"}),
    ("sinks", {"sinks"}),
    ("core", {"core", "resume"}),
    ("drivers", {"runners", "hooks"}),
    ("front ends", {"api", "cli", "shared", "check", "compare", "figures", "report", "chart", "workloads", "display", "demo",
                    "__main__", ""}),
]
# Layers side by side that must not know each other: storage is not output, nor I/O.
STRANGERS = {("storage", "sinks"), ("storage", "fetchers"), ("sinks", "storage"),
             ("sinks", "fetchers"), ("fetchers", "storage"), ("fetchers", "sinks")}


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that module name imports, wherever the import statement is."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{module}.{alias.name}"
                found.add(target if target in modules else module)
    return {target for target in found if target in modules and target != name}


def _graph() -> dict[str, set[str]]:
    """Module name -> the package modules it imports."""
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _layer(name: str) -> int:
    """The index in LAYERS of a module's layer."""
    top = name.split(".")[1] if "." in name else ""
    for index, (_, members) in enumerate(LAYERS):
        if top in members:
            return index
    raise AssertionError(f"{name} belongs to no layer: add it to LAYERS in {__file__}")


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups = []
    for root, targets in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(targets)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while (member := stack.pop()) != node:
                        group.add(member)
                    group.add(node)
                    if len(group) > 1:
                        groups.append(group)
    return groups


def test_every_import_goes_to_the_same_or_a_lower_layer() -> None:
    wrong = [f"{name} ({LAYERS[_layer(name)][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
             for name, targets in _graph().items() for target in sorted(targets)
             if _layer(target) > _layer(name)
             or (LAYERS[_layer(name)][0], LAYERS[_layer(target)][0]) in STRANGERS]
    assert wrong == []


def test_no_inside_module_imports_the_package_root() -> None:
    assert [name for name, targets in _graph().items() if "crawler" in targets] == []


def test_the_import_graph_has_no_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_driver_imports_another_driver() -> None:
    # What drivers share lives beside them (runners.work, runners.blocking), so each
    # driver can change without touching the others.
    drivers = {f"crawler.runners.{mode}" for mode in ("aio", "sync", "threaded", "process")}
    graph = _graph()
    assert {driver: graph[driver] & drivers for driver in drivers} == {driver: set() for driver in drivers}
