"""The shape of kit/ itself: modules a reader can hold in mind, no reaching into another
module's private names, one way to write a file atomically."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1] / "kit"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(KIT.rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _module_name(path: Path) -> str:
    parts = path.relative_to(KIT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(KIT.parent)))
def test_module_and_functions_are_short(path):
    lines = path.read_text().count("\n")
    assert lines <= MAX_MODULE_LINES, f"{path.name} has {lines} lines; split it (at most {MAX_MODULE_LINES})"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(_tree(path)) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines in {path.name}: {', '.join(long)}"


def _private_imports(path: Path) -> list[str]:
    """`from kit.x import _name` or `kit.x._name` reached from another module (a package's own
    private submodules, kit.models._base say, are its business)."""
    me = _module_name(path)
    bad = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(("kit", "competitions")):
            if node.module == me:
                continue
            bad += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    return bad


@pytest.mark.parametrize("path", _modules() + sorted((KIT.parent / "competitions").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(KIT.parent)))
def test_no_module_imports_another_modules_private_names(path):
    assert _private_imports(path) == []


def _renames_a_temp_file(path: Path) -> bool:
    """Does the module call os.replace (or Path.replace/rename) on a temporary name of its own?"""
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                "replace", "rename") and node.args:
            is_os = isinstance(node.func.value, ast.Name) and node.func.value.id == "os"
            source = ast.unparse(node.args[0] if is_os else node.func.value)
            if (is_os or node.func.attr == "rename") and "tmp" in source.lower():
                return True
    return False


def test_one_atomic_write_helper():
    """Only kit/atomic.py renames a temporary file into place; everything else calls it."""
    renamers = [str(p.relative_to(KIT.parent)) for p in _modules()
                if p.name != "atomic.py" and _renames_a_temp_file(p)]
    assert renamers == []
