"""The package's layering, read from the source (no import runs): no import cycle between its
modules, lazy imports inside functions included; the converter never imports the search or
the benchmarks, the search never the benchmarks; no private name imported across modules."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the top-level folders and the package each maps to (setup.py)
FOLDERS = {"tflm_mcunet": "tflm_mcunet", "converter": "tflm_mcunet.converter",
           "search": "tflm_mcunet.search", "benchmarks": "tflm_mcunet.benchmarks"}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package] + parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]):
    """(module imported, names taken from it) for every import of the module, anywhere in it;
    `from package import submodule` counts as an import of the submodule only."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = (".".join(package[:len(package) - node.level + 1]
                             + ([node.module] if node.module else []))
                    if node.level else node.module or "")
            submodules = [f"{base}.{a.name}" for a in node.names]
            for sub in submodules:
                if sub in modules:
                    yield sub, []
            names = [a.name for a, sub in zip(node.names, submodules) if sub not in modules]
            if names and base in modules:
                yield base, names


def _graph():
    modules = _modules()
    edges = {name: {} for name in modules}
    for name, path in modules.items():
        for target, names in _imports(name, path, modules):
            if target != name:
                edges[name].setdefault(target, []).extend(names)
    return edges


def _cycles(edges) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    edges = _graph()
    assert len(edges) > 80  # the whole package was read
    assert _cycles(edges) == []


def test_cycles_are_found():
    edges = {"a": {"b": []}, "b": {"c": []}, "c": {"a": []}, "d": {"a": []}}
    assert _cycles(edges) == [["a", "b", "c"]]


def test_layers_point_down():
    below = {"tflm_mcunet.converter": ("tflm_mcunet.search", "tflm_mcunet.benchmarks"),
             "tflm_mcunet.search": ("tflm_mcunet.benchmarks",)}
    wrong = [f"{name} imports {target}" for name, targets in _graph().items()
             for layer, banned in below.items() if name.startswith(layer)
             for target in targets if target.startswith(banned)]
    assert wrong == []


def test_no_private_names_across_modules():
    private = [f"{name} takes {n} from {target}" for name, targets in _graph().items()
               for target, names in targets.items() for n in names
               if n.startswith("_") and not n.startswith("__")]
    assert private == []
