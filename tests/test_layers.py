"""The package's import graph: arrows run down the layers of shared/STYLE.md, and never in a circle.

Every import counts, at module level or inside a function; only imports under
`if TYPE_CHECKING:` are left out of the cycle check (they never run), not out of the layer check.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import factory

PACKAGE = Path(factory.__file__).resolve().parent

#: Layers, top to bottom: a module may import its own layer and the layers below it. Each entry
#: names module prefixes; a module belongs to the layer of its longest matching prefix. A new
#: package goes in one row here (e.g. "factory.serve" with cli/workflow, "factory.rewards" with
#: publish/evaluate/train, "factory.verify.claims" with verify, "factory.domains.rules" with
#: domains).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cli", ("factory.cli",)),
    # The service runs trained models (it reads evaluation's drift baseline): beside workflow.
    ("workflow", ("factory.workflow", "factory.serve")),
    (
        "publish/evaluate/train",
        (
            "factory.publish",
            "factory.evaluate",
            "factory.train",
            "factory.cards",
            "factory.inspect",
            "factory.rewards",
        ),
    ),
    ("pipeline", ("factory.pipeline",)),
    ("teachers", ("factory.teachers",)),
    ("verify", ("factory.verify",)),
    ("recipe", ("factory.recipe", "factory.synth")),
    ("domains", ("factory.domains",)),
    (
        "output/errors",
        (
            "factory.output",
            "factory.errors",
            "factory.dataset",
            "factory.tabular",
            "factory._json",
            "factory._distilabel",
            "factory._forkserver_guard",
            "factory",  # the package itself: __version__
        ),
    ),
)


def _module_name(path: Path) -> str:
    parts = ["factory", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str | None:
    """The factory module `name` refers to (a module, or the module holding that attribute)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(module: str) -> Iterator[tuple[str, int, bool]]:
    """(imported factory module, line, under TYPE_CHECKING) for every import in `module`."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            names = [f"{source}.{alias.name}" for alias in node.names]
        for name in names:
            target = _resolve(name) if name.startswith("factory") else None
            if target and target != module:
                yield target, node.lineno, node.lineno in guarded


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS in {__file__}"
    return best


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_imports_run_down_the_layers():
    upward = []
    for module in sorted(MODULES):
        for target, line, _ in imports(module):
            if layer_of(target) < layer_of(module):
                upward.append(
                    f"{module} ({LAYERS[layer_of(module)][0]}) line {line} imports "
                    f"{target} ({LAYERS[layer_of(target)][0]})"
                )
    assert not upward, "imports up the layers:\n" + "\n".join(upward)


def _package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def test_no_import_cycles():
    # A package's __init__ naming its own submodules, and those submodules reading the package's
    # registry, is how Python packages are built; every other cycle is a defect.
    graph = {
        module: {
            target
            for target, _, typing_only in imports(module)
            if not typing_only
            and not (MODULES[module].name == "__init__.py" and target.startswith(module + "."))
            and not (MODULES[target].name == "__init__.py" and module.startswith(target + "."))
        }
        for module in MODULES
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_an_import_inside_a_function(tmp_path, monkeypatch):
    probe = tmp_path / "probe.py"
    probe.write_text("def late():\n    from factory.pipeline import steps\n")
    monkeypatch.setitem(MODULES, "factory.verify._probe", probe)
    assert [t for t, _, _ in imports("factory.verify._probe")] == ["factory.pipeline.steps"]
    assert layer_of("factory.pipeline.steps") < layer_of("factory.verify._probe")
