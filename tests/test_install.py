"""What a notebook imports, the install cell installs: Colab, Binder and a plain ``pip install`` of
cnnbook get only the dependencies declared in pyproject.toml (not requirements.txt)."""

import ast
import importlib.metadata
import json
import re
import sys
from pathlib import Path

import tomllib

import cnnbook

ROOT = Path(__file__).resolve().parent.parent
# Every Jupyter kernel runs on IPython, so a notebook (and cnnbook.book.viz) may import it without declaring it.
KERNEL_MODULES = {"IPython"}
# Imported only inside cnnbook.book.sweep's functions, which `python -m cnnbook sweep` runs from a checkout
# (requirements.txt); the chapters do not import it.
DEVELOPER_ONLY = {"papermill", "nbformat"}


def notebook_sources() -> dict[str, str]:
    """``{"notebooks/x.ipynb cell 3": code}`` for every code cell, IPython magics and shell lines dropped."""
    sources = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        for number, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                lines = "".join(cell["source"]).splitlines()
                code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)
                sources[f"{path.relative_to(ROOT)} cell {number}"] = code
    return sources


def imports(code: str, package: str = "", lazy: bool = True) -> set[str]:
    """Absolute module names ``code`` imports (with ``lazy``, also those inside functions);
    relative imports resolved against ``package``."""
    names = set()
    for node in _nodes(ast.parse(code), lazy):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}  # `from cnnbook import viz` is a module
    return names


def _nodes(tree: ast.AST, lazy: bool):
    for node in ast.iter_child_nodes(tree):
        if lazy or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield node
            yield from _nodes(node, lazy)


def cnnbook_module_file(name: str) -> Path | None:
    parts = name.split(".")
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


# What cnnbook/__init__.py imports on first use (its __getattr__), as the modules that run then.
LAZY = {f"cnnbook.{name}": f"cnnbook.{path}" for name, path in cnnbook.MODULES.items()} | {
    f"cnnbook.{name}": "cnnbook.book.chapter" for name in cnnbook.BOOK_LAYER
}


def reachable_imports(sources: dict[str, str], lazy: bool = True) -> dict[str, str]:
    """``{top-level module: where it is imported}`` for the notebooks and every cnnbook module they reach
    (with ``lazy``, counting imports inside functions too)."""
    found, queue, seen = {}, [], set()
    for where, code in sources.items():
        for name in sorted(imports(code)):  # sorted: the same walk whatever the string hash seed
            found.setdefault(name.split(".")[0], where)
            queue.append(name)
    while queue:
        name = queue.pop()
        name = LAZY.get(name, name)  # `from cnnbook import viz` imports cnnbook.book.viz on first use
        parts = name.split(".")
        if parts[0] != "cnnbook":
            continue
        for depth in range(1, len(parts) + 1):  # importing cnnbook.a.b runs cnnbook, cnnbook.a, cnnbook.a.b
            module = ".".join(parts[:depth])
            path = cnnbook_module_file(module)
            if module in seen or path is None:
                continue
            seen.add(module)
            package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
            for imported in sorted(imports(path.read_text(), package, lazy)):
                found.setdefault(imported.split(".")[0], str(path.relative_to(ROOT)))
                queue.append(imported)
    return found


def declared_modules(pyproject: Path = ROOT / "pyproject.toml") -> set[str]:
    """Top-level modules the dependencies declared in ``pyproject`` provide (as installed here)."""
    normal = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
    requirements = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    declared = {normal(re.match(r"[A-Za-z0-9_.-]+", req)[0]) for req in requirements}
    provided = importlib.metadata.packages_distributions()
    return {module for module, dists in provided.items() if declared & {normal(d) for d in dists}}


def missing_modules(sources: dict[str, str], pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    available = (
        declared_modules(pyproject) | set(sys.stdlib_module_names) | KERNEL_MODULES | DEVELOPER_ONLY | {"cnnbook"}
    )
    return {module: where for module, where in reachable_imports(sources).items() if module not in available}


def test_every_module_a_notebook_reaches_is_installed_by_the_install_cell():
    missing = missing_modules(notebook_sources())
    assert not missing, "; ".join(
        f"{where} imports {module}, which pyproject.toml does not declare: add its distribution to "
        "[project] dependencies"
        for module, where in sorted(missing.items())
    )


def test_developer_only_modules_are_imported_lazily():
    eager = reachable_imports(notebook_sources(), lazy=False)
    assert not DEVELOPER_ONLY & eager.keys(), {module: eager[module] for module in DEVELOPER_ONLY & eager.keys()}


def test_a_dependency_missing_from_pyproject_is_caught(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text()
    pyproject.write_text(re.sub(r'\n\s*"torchinfo[^"]*",', "", text))
    assert "torchinfo" not in tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    missing = missing_modules(notebook_sources(), pyproject)
    assert missing.keys() == {"torchinfo"}
    assert missing["torchinfo"] == "cnnbook/book/viz.py"  # its layer tables (viz.layer_table)


def test_imports_inside_the_package_are_followed():
    found = reachable_imports({"cell": "from cnnbook import viz"})
    assert found["matplotlib"] == "cnnbook/book/viz.py"
    assert found["torch"].startswith("cnnbook/")  # cnnbook/__init__.py runs first
