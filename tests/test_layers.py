"""The package's imports point one way only: settings, storage, models, data -> training -> analysis,
experiments -> runs -> book -> cli (README, *Layout*). Read from the source, imports inside
functions included."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cnnbook"
# Each top-level module or folder of cnnbook and its layer; a module may import its own folder
# and the layers below its own.
LAYERS = {
    "models": 0,
    "storage": 0,
    "settings": 0,
    "data": 1,
    "training": 2,
    "analysis": 3,
    "experiments": 3,
    "runs": 4,
    "book": 5,
    "cli": 6,
    "__main__": 7,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The cnnbook modules ``path`` imports, as dotted names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "cnnbook"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "cnnbook":
                target = node.module
            else:
                continue
            for alias in node.names:  # `from . import probe` imports the module cnnbook.<...>.probe
                sub = f"{target}.{alias.name}"
                is_module = (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists()
                found.add(sub if is_module or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else target)
    return found


def layer_of(module: str) -> tuple[str, int]:
    group = module.split(".")[1] if "." in module else ""
    if group not in LAYERS:
        raise AssertionError(f"{module}: not in a layer of tests/test_layers.py's LAYERS; add it there")
    return group, LAYERS[group]


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: imported_modules(p) - {m} for m, p in modules.items() if m != "cnnbook"}  # the facade re-exports


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, targets in sorted(edges.items()):
        group, layer = layer_of(module)
        for target in sorted(targets):
            if target == "cnnbook":
                wrong.append(f"{module} imports the package facade cnnbook")
                continue
            other, other_layer = layer_of(target)
            if other != group and other_layer >= layer:
                wrong.append(f"{module} ({group}, layer {layer}) imports {target} ({other}, layer {other_layer})")
    return wrong


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_every_import_points_down_a_layer():
    assert upward_imports(graph()) == []


def test_no_module_imports_itself_back():
    assert cycles(graph()) == []


def test_the_model_zoo_imports_nothing_else_of_cnnbook():
    edges = graph()
    zoo = [m for m in edges if m.startswith("cnnbook.models")]
    assert [f"{m} imports {t}" for m in zoo for t in edges[m] if not t.startswith("cnnbook.models")] == []


@pytest.mark.parametrize(
    "edges, expected",
    [
        ({"cnnbook.training.loop": {"cnnbook.book.viz"}}, 1),  # training reaching up into the book layer
        ({"cnnbook.analysis.cam": {"cnnbook.experiments.finetune"}}, 1),  # sideways between analysis and experiments
        ({"cnnbook.runs.reference": {"cnnbook.runs.budgets", "cnnbook.data"}}, 0),  # own folder, lower layer
    ],
)
def test_the_checker_finds_an_upward_import(edges, expected):
    assert len(upward_imports(edges)) == expected


def test_the_checker_finds_a_cycle():
    assert cycles({"cnnbook.a.x": {"cnnbook.a.y"}, "cnnbook.a.y": {"cnnbook.a.x"}}) == [
        ["cnnbook.a.x", "cnnbook.a.y", "cnnbook.a.x"]
    ]
