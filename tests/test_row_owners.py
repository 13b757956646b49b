"""No package writes another package's rows: it calls the owner's services.

A static check over ``app/`` and the top-level ``scheduler/`` (one package): a model (a
``Base`` subclass in some package's ``models.py``) may be constructed, or named in a Core
``insert`` / ``update`` / ``delete``, only inside the top-level package that defines it.
Changing another package's loaded object (``member.level = …``) is not seen here; review
catches that.
"""

from __future__ import annotations

import ast
from pathlib import Path

import app as app_package

ROOT = Path(app_package.__file__).parent
#: Top-level packages beside ``app/`` that own tables: each is one owner.
PACKAGES = (ROOT.parent / "scheduler",)
DML = frozenset({"insert", "update", "delete"})

#: Writes known to bypass the owner, each to be routed through its services and struck off:
#: (the writing package or top-level module, the model).
KNOWN = {
    ("demo", "Level"),  # the demo's levels: members has no service that makes a level
    ("demo", "Question"),  # the demo's questions: members.services.define_question exists
    ("ledger", "Level"),  # `laoyou rules import` writes levels, defined in members.models
}


def _owner(path: Path) -> str:
    """The top-level package (or module, for ``app/demo.py``) a file belongs to."""
    for package in PACKAGES:
        if path.is_relative_to(package):
            return package.name
    parts = path.relative_to(ROOT).parts
    return parts[0] if len(parts) > 1 else path.stem


def _files(pattern: str) -> list[Path]:
    return [p for root in (ROOT, *PACKAGES) for p in root.rglob(pattern)]


def _models() -> dict[str, str]:
    """Every model class name and the package that defines it."""
    models = {}
    for path in _files("*models.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and any(
                getattr(base, "id", None) == "Base" for base in node.bases
            ):
                models[node.name] = _owner(path)
    return models


def _named_model(node: ast.expr, models: dict[str, str]) -> str | None:
    """``Model`` or ``Model.__table__`` as written in a DML call's first argument."""
    if isinstance(node, ast.Attribute) and node.attr == "__table__":
        node = node.value
    name = getattr(node, "id", None)
    return name if name in models else None


def _writes(tree: ast.AST, models: dict[str, str]) -> set[str]:
    written = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = getattr(node.func, "id", None)
        if callee in models:
            written.add(callee)
        elif callee in DML and node.args:
            model = _named_model(node.args[0], models)
            if model is not None:
                written.add(model)
    return written


def _foreign_writes() -> set[tuple[str, str]]:
    models = _models()
    found = set()
    for path in _files("*.py"):
        if "migrations" in path.parts:
            continue
        writer = _owner(path)
        for model in _writes(ast.parse(path.read_text(encoding="utf-8")), models):
            if models[model] != writer:
                found.add((writer, model))
    return found


def test_no_package_writes_another_packages_rows() -> None:
    found = _foreign_writes()
    assert found - KNOWN == set(), "call the owning package's services instead"
    assert KNOWN - found == set(), "fixed: strike it off KNOWN"


def test_the_check_sees_a_foreign_write() -> None:
    models = {"CardEvent": "cards", "ApiKey": "auth"}
    tree = ast.parse("db.session.add(CardEvent(card_id=1))\nupdate(ApiKey.__table__)\n")
    assert _writes(tree, models) == {"CardEvent", "ApiKey"}
