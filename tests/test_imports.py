"""The package's imports flow one way, down its layers. Every import counts, at module level or
inside a function (a function-level import hides a cycle, it does not remove it); only
`if TYPE_CHECKING:` ones are left out.

Layers, bottom up: the library (data, tasks, models, features, training, evaluation, metrics,
store, report, and the top-level helpers), the recipes (phase 2, phase 3, probes), orchestration
(spec, plan, executors: the only code that knows node kinds), recommend, the command line. A
module imports its own layer and those below; a recipe is imported only by the runners and the
command line."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
LAYERS = ("library", "recipes", "orchestration", "recommend", "cli")


def layer(module: str) -> int:
    """The layer of a module of the package: its package below xstilts, the CLI's modules by name."""
    part = module.split(".")[1] if "." in module else ""
    if part.startswith("cli"):
        return LAYERS.index("cli")
    return LAYERS.index(part) if part in LAYERS else 0


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "xstilts").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules NAME imports at run time."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for stmt in node.body for n in ast.walk(stmt)}
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] + [node.module or ""]).strip(".") if node.level \
                else node.module or ""
            # `from pkg import sub` imports the module pkg.sub; `from pkg import name`, pkg itself
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_hidden_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    # and the graph sees function-level imports: report.study imports report.stats at module level,
    # orchestration.study imports report.recommendation inside a function
    graph = _graph()
    assert "xstilts.report.stats" in graph["xstilts.report.study"]
    assert "xstilts.report.recommendation" in graph["xstilts.orchestration.study"]


def test_imports_go_down_the_layers_only():
    upward = sorted((name, target) for name, targets in _graph().items() for target in targets
                    if layer(target) > layer(name))
    assert upward == []


def test_recipes_are_imported_by_the_runners_and_the_cli_only():
    graph = _graph()
    users = {name for name, targets in graph.items() if any(t.startswith("xstilts.recipes") for t in targets)}
    assert {u for u in users if not u.startswith("xstilts.recipes")} == {"xstilts.orchestration.runners", "xstilts.cli_tools"}


def test_the_layer_checks_can_fail():
    assert [layer(m) for m in ("xstilts.data.catalog", "xstilts.errors", "xstilts.recipes.finetune",
                               "xstilts.orchestration.plan", "xstilts.recommend.run", "xstilts.cli_study")] == [0, 0, 1, 2, 3, 4]
    graph = _graph()
    assert "xstilts.orchestration.validate" in graph["xstilts.recommend.run"]  # an import the layers allow ...
    assert layer("xstilts.orchestration.validate") < layer("xstilts.recommend.run")  # ... and its inverse they refuse
