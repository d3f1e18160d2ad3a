"""The package's structure: data flows one way, so no module imports itself back."""

import ast
from pathlib import Path

import aekit

PACKAGE = Path(aekit.__file__).parent


def _module_name(path: Path) -> str:
    parts = ("aekit", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """aekit modules imported anywhere in the file, at module level or inside functions."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("aekit"))
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = f"{base}.{node.module}" if node.level and node.module else node.module or base
            if not module.startswith("aekit"):
                continue
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)  # `from . import plots`
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def _cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_in_the_package():
    graph = _graph()
    # A package's __init__ re-exports its modules; that a module is reached through its parent
    # package is Python's mechanics, not a dependency of the package on the module.
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_graph_sees_relative_imports():
    graph = _graph()
    assert "aekit.persistence" in graph["aekit.estimators"]
    assert "aekit.runs" in graph["aekit.report"]
    assert "aekit.estimators" not in graph["aekit.persistence"]  # the registry lives with persistence
