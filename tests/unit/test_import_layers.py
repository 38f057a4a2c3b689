"""Imports point downward only: the package-level import graph of maxrl is acyclic, config imports no layer
above it, and algorithms stays free of Ray and models. Read from the sources with `ast`, nothing imported."""

import ast
from collections import defaultdict
from pathlib import Path

import maxrl

ROOT = Path(maxrl.__file__).parent


def package_of(module: str) -> str | None:
    """``maxrl.tasks.maze.x`` -> ``tasks.maze``; ``maxrl.trainer.x`` -> ``trainer``; outside maxrl -> None."""
    parts = module.split(".")
    if parts[0] != "maxrl" or len(parts) < 2:
        return None
    return ".".join(parts[1:3]) if parts[1] == "tasks" and len(parts) > 2 else parts[1]


def imports_by_package() -> dict[str, dict[str, set[str]]]:
    """{package: {imported top-level name or maxrl package: {files}}} over every module, lazy imports included."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if len(relative.parts) == 1:
            continue  # maxrl/__init__.py
        source = package_of(".".join(("maxrl", *relative.with_suffix("").parts)))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                target = package_of(name) or name.split(".")[0]
                if target != source:
                    graph[source][target].add(str(relative))
    return graph


def test_the_package_import_graph_is_acyclic():
    graph = imports_by_package()
    packages = set(graph)
    edges = {source: {t for t in targets if t in packages} for source, targets in graph.items()}
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycle = path[path.index(node):] + [node]
            files = [sorted(graph[a][b]) for a, b in zip(cycle, cycle[1:])]
            raise AssertionError(f"import cycle {' -> '.join(cycle)} through {files}")
        if node not in done:
            for target in sorted(edges.get(node, ())):
                visit(target, [*path, node])
            done.add(node)

    for package in sorted(packages):
        visit(package, [])


def test_config_imports_no_layer_above_it():
    config = imports_by_package()["config"]
    assert {name: config[name] for name in ("trainer", "controller", "workers") if name in config} == {}


def test_algorithms_imports_neither_ray_nor_model_code():
    algorithms = imports_by_package()["algorithms"]
    assert {name: algorithms[name] for name in ("ray", "transformers", "workers", "trainer") if name in algorithms} == {}
