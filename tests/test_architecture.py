"""The house keeps its shape: each top-level package imports only the layers below it, and no
module imports itself back through others (docs/architecture.md).

Layers, lowest first; a package may import its own layer's modules only within itself:

    schemas  <-  sigap.core  <-  sigap.storage, metrics  <-  streams, consumers, sigap.reports,
                                 sigap.monitoring  <-  sigap (CLI, demo, ...)

A layer is a package path; a module belongs to the longest one that prefixes it (sigap.core.x is
in sigap.core, sigap.cli.x in sigap).

One exception: `sigap.settings` (the service settings, read at the edge) imports no project
module, and the edge layers (streams, consumers, ...) may import it.

The imports are read from the source with `ast` (every `import` and `from ... import`,
including the ones inside functions), not by importing the modules. Imports only for the
type checker (under `if TYPE_CHECKING:`) count for the layers, not for cycles: they are
never executed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS: dict[str, int] = {
    "schemas": 0,
    "sigap.core": 1,
    "sigap.storage": 2,
    "metrics": 2,
    "streams": 3,
    "consumers": 3,
    "sigap.reports": 3,
    "sigap.monitoring": 3,
    "sigap": 4,
}
TOP_LEVEL = {layer.split(".")[0] for layer in LAYERS}


def modules() -> Iterator[tuple[str, Path]]:
    for package in sorted(TOP_LEVEL):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _type_checking_only(tree: ast.AST) -> set[ast.AST]:
    """The import nodes under `if TYPE_CHECKING:`."""
    nodes: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                nodes.update(ast.walk(child))
    return nodes


def imported(name: str, path: Path, *, runtime_only: bool = False) -> set[str]:
    """The project modules `name` imports (absolute names; packages count as modules)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skipped = _type_checking_only(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            # `from package import module` imports the module.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in TOP_LEVEL}


GRAPH: dict[str, set[str]] = {name: imported(name, path) for name, path in modules()}
RUNTIME: dict[str, set[str]] = {
    name: imported(name, path, runtime_only=True) for name, path in modules()
}


def resolve(target: str) -> str | None:
    """The module of GRAPH an imported name refers to (the longest known prefix)."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in GRAPH:
            return candidate
    return None


def edges(graph: dict[str, set[str]] = GRAPH) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name, targets in graph.items():
        out[name] = {r for t in targets if (r := resolve(t)) is not None and r != name}
    return out


def test_the_graph_holds_every_package() -> None:
    # A guard against a test that checks nothing: each layer has modules with imports.
    assert {layer_of(name) for name in GRAPH} == set(LAYERS)
    assert sum(len(targets) for targets in edges().values()) > 100


# The service settings (pydantic-settings, read at the edge): a leaf that imports no project
# module, so the edge layers (streams, consumers) may read it though it lives in sigap/.
EDGE_LEAVES: dict[str, int] = {"sigap.settings": LAYERS["streams"]}


def layer_of(module: str) -> str:
    """The longest layer that prefixes `module`."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if (candidate := ".".join(parts[:end])) in LAYERS:
            return candidate
    raise KeyError(module)


def upward_imports(graph: dict[str, set[str]], package: str) -> list[str]:
    """Imports from `package` into a higher layer, or into another package of its layer."""
    return sorted(
        f"{name} imports {target}"
        for name, targets in graph.items()
        if layer_of(name) == package
        for target in targets
        if not (target in EDGE_LEAVES and LAYERS[package] >= EDGE_LEAVES[target])
        and (
            LAYERS[layer_of(target)] > LAYERS[package]
            or (LAYERS[layer_of(target)] == LAYERS[package] and layer_of(target) != package)
        )
    )


def cycles_of(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module: the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


@pytest.mark.parametrize("package", list(LAYERS))
def test_no_module_imports_a_layer_above_it(package: str) -> None:
    wrong = upward_imports(edges(), package)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("leaf", list(EDGE_LEAVES))
def test_the_edge_leaves_import_no_project_module(leaf: str) -> None:
    assert leaf in GRAPH
    assert GRAPH[leaf] == set()


def test_there_is_no_import_cycle() -> None:
    cycles = cycles_of(edges(RUNTIME))
    assert not cycles, cycles


def test_the_checks_catch_a_cycle_and_an_upward_import() -> None:
    a, b, c = "sigap.core.a", "sigap.core.b", "sigap.core.c"
    assert cycles_of({a: {b}, b: {c}, c: {a}}) == [[a, b, c]]
    assert cycles_of({a: {b}, b: set()}) == []
    assert upward_imports({a: {"sigap.storage.scores", "schemas.events"}}, "sigap.core") == [
        "sigap.core.a imports sigap.storage.scores"
    ]
    assert upward_imports({"metrics.a": {"sigap.storage.scores"}}, "metrics") == [
        "metrics.a imports sigap.storage.scores"
    ]
    assert upward_imports({"streams.a": {"sigap.settings"}}, "streams") == []
    assert upward_imports({a: {"sigap.settings"}}, "sigap.core") == [
        "sigap.core.a imports sigap.settings"
    ]
    assert upward_imports({a: {"sigap.cli.group"}}, "sigap.core") == [
        "sigap.core.a imports sigap.cli.group"
    ]
    assert resolve("sigap.core.registry.Registry") == "sigap.core.registry"
