"""No import cycle between the packages and top-level modules of ``app/``.

Every import counts, those inside functions and under ``TYPE_CHECKING`` included: each is
a dependency, and hiding one in a function only moves the cycle to run time. Each module
is mapped to its owner (``app.ledger.rules.engine`` -> ``app.ledger``, ``app.clock`` ->
``app.clock``); ``app/__init__.py`` (``create_app``, which wires every package) is the
composition root and left out. Alembic's migrations are not part of the graph.

The top-level ``scheduler/`` package is one more owner in the graph; no module of ``app/``
but the composition root imports it (``app.jobs`` is the registry it reads).
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
SCHEDULER = APP.parent / "scheduler"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def owner(module: str) -> str:
    """``app.X`` for every module of a package ``app/X/`` and for a top-level ``app/X.py``."""
    if module.split(".")[0] == "scheduler":
        return "scheduler"
    return ".".join(module.split(".")[:2])


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """Every module of ``app`` that ``module`` imports, anywhere in its body."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from app.ledger import journal` imports the module app.ledger.journal.
            subs = {f"{base}.{alias.name}" for alias in node.names} & known
            found.update(subs or {base})
    return {name for name in found if name.startswith("app.") or _is_scheduler(name)}


def _is_scheduler(name: str) -> bool:
    return name == "scheduler" or name.startswith("scheduler.")


def package_graph() -> dict[tuple[str, str], list[str]]:
    """(owner, owner) -> the imports that make the edge, as ``module -> module``."""
    paths = {
        module_name(p): p
        for p in [*APP.rglob("*.py"), *SCHEDULER.rglob("*.py")]
        if "migrations" not in p.relative_to(APP.parent).parts[1:2]
    }
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, path in paths.items():
        if module == "app":
            continue
        for target in imported(module, path, set(paths)):
            if target == "app" or owner(module) == owner(target):
                continue
            edges[owner(module), owner(target)].append(f"{module} -> {target}")
    return edges


def find_cycle(edges: dict[tuple[str, str], list[str]]) -> list[str] | None:
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for nxt in sorted(graph[node]):
            cycle = visit(nxt, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_no_import_cycle_between_packages() -> None:
    edges = package_graph()
    cycle = find_cycle(edges)
    if cycle:
        why = [
            f"  {a} -> {b}: " + ", ".join(sorted(set(edges[a, b]))[:3])
            for a, b in itertools.pairwise(cycle)
        ]
        raise AssertionError("import cycle " + " -> ".join(cycle) + "\n" + "\n".join(why))


def test_no_module_of_app_imports_the_scheduler() -> None:
    edges = package_graph()
    into = sorted(i for (a, b), found in edges.items() if b == "scheduler" for i in found)
    assert into == [], "app reads the scheduler through app.jobs, never by import"


def test_the_walk_sees_imports_inside_functions_and_type_checking(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from app.cards.models import Card\n"
        "def f():\n    from app.ledger import journal\n    import app.members.models\n"
    )
    found = imported("app.x.m", source, {"app.ledger.journal"})
    assert found == {"app.cards.models", "app.ledger.journal", "app.members.models"}


def test_a_cycle_is_named() -> None:
    edges = {("app.a", "app.b"): ["app.a.x -> app.b.y"], ("app.b", "app.a"): ["app.b.z -> app.a"]}
    assert find_cycle(edges) == ["app.a", "app.b", "app.a"]
