"""The package layout's rules, read from the source: imports run one way (the method's core, then
models and tasks, transfer, the engine, the experiment, analysis, the pipeline), no private
module or name crosses a subpackage, the public API stays small, and functions stay a page long."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lens_steer as ls

PACKAGE = Path(ls.__file__).resolve().parent

#: Each unit may import only units of its own rank or lower. Top-level modules are units of
#: their own ("top:extract"); subpackages are one unit each.
RANK = {
    "lens_steer": 0,  # names of the package root itself: only its metadata (__version__)
    "top:errors": 0,
    "top:vectors": 1,
    "top:anchors": 1,
    "formats": 1,  # file formats of vectors: SteeringVectors.load reads them all
    "models": 2,
    "top:activations": 3,
    "tasks": 4,
    "top:options": 5,
    "top:extract": 5,
    "top:steer": 5,
    "top:testing": 5,
    "transfer": 6,
    "engine": 7,
    "experiment": 8,
    "analysis": 9,
    "pipeline": 10,
}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def _unit(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "lens_steer"
    return parts[1] if (PACKAGE / parts[1]).is_dir() else f"top:{parts[1]}"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _runtime_imports(module: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names, line) of every relative import outside ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level and id(node) not in skip:
            base = package[: len(package) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            names = [a.name for a in node.names]
            if node.module is None:  # from . import a, b: modules, or names of the package
                for n in names:
                    file = PACKAGE.parent.joinpath(*target.split("."), n)
                    is_module = file.is_dir() or file.with_suffix(".py").is_file()
                    found.append(
                        (f"{target}.{n}", [], node.lineno)
                        if is_module
                        else (target, [n], node.lineno)
                    )
            else:
                found.append((target, names, node.lineno))
    return found


def test_every_unit_has_a_rank():
    assert {_unit(m) for m, _ in _modules()} <= set(RANK)


def test_imports_run_one_way():
    wrong = []
    for module, path in _modules():
        src = _unit(module)
        if src == "lens_steer":
            continue  # the package root re-exports the public API
        for target, _, line in _runtime_imports(module, path):
            dst = _unit(target)
            if dst != src and RANK[dst] > RANK[src]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} {src} imports {dst}")
    assert wrong == []


def test_no_private_module_or_name_crosses_a_subpackage():
    wrong = []
    for module, path in _modules():
        for target, names, line in _runtime_imports(module, path):
            where = f"{path.relative_to(PACKAGE)}:{line}"
            private_module = any(_private(p) for p in target.split(".")[1:])
            if private_module:
                wrong.append(f"{where} imports the private module {target}")
            if _unit(target) != _unit(module):
                wrong.extend(f"{where} imports {target}.{n}" for n in names if _private(n))
    assert wrong == []


def test_top_level_holds_few_modules_and_a_small_api():
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top
    assert len(ls.__all__) <= 30 and len(set(ls.__all__)) == len(ls.__all__)
    assert all(hasattr(ls, name) for name in ls.__all__)


@pytest.mark.parametrize("sub", ["engine", "experiment", "models", "pipeline", "transfer"])
def test_subpackages_export_what_they_name(sub):
    import importlib

    module = importlib.import_module(f"lens_steer.{sub}")
    assert module.__doc__ and all(hasattr(module, n) for n in getattr(module, "__all__", ()))


def _docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    first = node.body[0]
    is_doc = isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant)
    return (
        first.end_lineno - first.lineno + 1 if is_doc and isinstance(first.value.value, str) else 0
    )


def test_functions_stay_a_page_long():
    """80 lines of signature and code at most; the docstring (an ``Args:`` section) is free."""
    long = []
    for _, path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1 - _docstring_lines(node)
                if n > 80:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({n})")
    assert long == []


def test_the_rules_catch_what_they_forbid(tmp_path):
    """The checks above are not vacuous: a module that imports upward, reaches into a private
    module and takes a private name is reported by each of them."""
    bad = tmp_path / "lens_steer" / "engine" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from ..pipeline.run import run_pipeline\nfrom ..tasks._x import _y\n")
    found = _runtime_imports("lens_steer.engine.bad", bad)
    assert [(t, n) for t, n, _ in found] == [
        ("lens_steer.pipeline.run", ["run_pipeline"]),
        ("lens_steer.tasks._x", ["_y"]),
    ]
    assert RANK[_unit(found[0][0])] > RANK["engine"]
    assert _unit(found[1][0]) != "engine" and found[1][1][0].startswith("_")
