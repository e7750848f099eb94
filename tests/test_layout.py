"""The package's layout is its architecture: layers import downward only, privates stay home.

Layers, lowest first (see the docstring of ``cjresearch/__init__.py``): the shared base
(``errors``, ``_files``, ``_checks``, ``_version``, ``_memory``, ``_background``), ``data``,
``analysis``, then ``datasets`` and ``artifacts`` (beside each other, neither importing the other),
``reporting``, ``explore``, and on top ``build``, ``schedule`` and ``cli``. Every import in
``src/`` (function-local ones included) is read from the source, so a new upward import or
a borrowed private helper fails here rather than in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers import REPO

PACKAGE = REPO / "src" / "cjresearch"
RANK = {
    "errors": 0,
    "_version": 0,
    "_files": 1,
    "_checks": 1,
    "_memory": 1,
    "_background": 1,
    "data": 2,
    "analysis": 3,
    "datasets": 4,
    "artifacts": 4,
    "reporting": 5,
    "explore": 6,
    "build": 7,
    "schedule": 7,
    "cli": 8,
    "__init__": 9,
}
#: Private modules at the top that every layer may share (one home per helper).
SHARED_PRIVATE = {"_files", "_checks", "_version", "_memory", "_background"}
MAX_MODULE_LINES = 900
MAX_FUNCTION_LINES = 100


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts)


def _part(path: Path) -> str:
    """The top-level part of the package a file belongs to (``analysis``, ``build``...)."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every ``cjresearch`` import in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "cjresearch":
                found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cjresearch":
                    found.append((node.lineno, alias.name, []))
    return found


def _target_part(module: str, names: list[str]) -> str:
    parts = module.split(".")
    if len(parts) > 1:
        return parts[1]
    # `from cjresearch import x`: the facade, unless x is a part itself
    return names[0] if len(names) == 1 and names[0] in RANK else "__init__"


def test_every_part_of_the_package_has_a_layer() -> None:
    assert {_part(p) for p in _modules()} <= set(RANK)


def test_imports_go_down_the_layers_only() -> None:
    upward = []
    for path in _modules():
        here = _part(path)
        for line, module, names in _imports(path):
            there = _target_part(module, names)
            if there != here and RANK[there] >= RANK[here]:
                upward.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    assert upward == []


def _is_module(module: str, name: str) -> bool:
    """Whether ``from module import name`` imports a module (a file of the package)."""
    folder = PACKAGE.joinpath(*module.split(".")[1:])
    return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()


@pytest.mark.parametrize("folder", ["src", "bench", "docs"])
def test_no_private_name_is_borrowed_from_another_module(folder: str) -> None:
    """No ``_helper`` imported from another module anywhere; a private module (``_codes``)
    is imported only inside its own subpackage (the top's ``_files``, ``_checks``,
    ``_version``, ``_memory`` and ``_background`` are shared by every layer)."""
    borrowed = []
    for path in sorted((REPO / folder).rglob("*.py")):
        here = _part(path) if path.is_relative_to(PACKAGE) else folder
        for line, module, names in _imports(path):
            parts = module.split(".")
            modules = [*parts[1:], *(n for n in names if _is_module(module, n))]
            private_modules = [m for m in modules if m.startswith("_") and m != "__init__"]
            private_names = [
                n for n in names if n.startswith("_") and n != "__version__" and n not in modules
            ]
            inside = len(parts) > 1 and parts[1] == here
            foreign = [m for m in private_modules if m not in SHARED_PRIVATE and not inside]
            if private_names or foreign:
                shown = f"{module} import {', '.join(names)}" if names else module
                borrowed.append(f"{path.relative_to(REPO)}:{line}: {shown}")
    assert borrowed == []


def _code_lines(node: ast.AST, source: list[str]) -> int:
    """Lines of a definition that hold code: no blank, comment-only or docstring lines."""
    docstrings: set[int] = set()
    for inner in ast.walk(node):
        body = getattr(inner, "body", None)
        if (
            isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            docstrings.update(range(body[0].lineno, (body[0].end_lineno or 0) + 1))
    lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)  # type: ignore[attr-defined]
    return sum(
        1
        for n in lines
        if n not in docstrings
        and source[n - 1].strip()
        and not source[n - 1].strip().startswith("#")
    )


def test_modules_and_functions_stay_small() -> None:
    long_modules = {
        str(p.relative_to(PACKAGE)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    long_functions = {}
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        source = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = _code_lines(node, source)
                if n > MAX_FUNCTION_LINES:
                    long_functions[f"{path.relative_to(PACKAGE)}:{node.name}"] = n
    assert long_modules == {}
    assert long_functions == {}


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """The readers above find what they look for (an upward and a private import)."""
    sample = tmp_path / "x.py"
    sample.write_text(
        "from cjresearch.build import build\n"
        "def f():\n    from cjresearch.analysis.journeys import _codes\n",
        encoding="utf-8",
    )
    found = _imports(sample)
    assert found == [
        (1, "cjresearch.build", ["build"]),
        (3, "cjresearch.analysis.journeys", ["_codes"]),
    ]
    assert _target_part("cjresearch.build", ["build"]) == "build"
    source = "def f():\n    '''doc\n    more'''\n    # c\n\n    return 1\n"
    assert _code_lines(ast.parse(source).body[0], source.splitlines()) == 2
    assert _is_module("cjresearch.analysis.stats", "_modelling")
    assert not _is_module("cjresearch.analysis.journeys", "_codes")
