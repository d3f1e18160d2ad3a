"""The package's structure: data flows one way, so no module imports itself back."""

import ast
from pathlib import Path

import pytest

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
    assert "aekit.persistence" in graph["aekit.estimators.base"]
    assert "aekit.runs" in graph["aekit.report"]
    assert "aekit.estimators" not in graph["aekit.persistence"]  # the registry lives with persistence


# ---------------------------------------------------------------------- rooms and their doors
# Who may import whom, from the bottom up: a room imports only rooms below it (or itself).
# "library" is what a Python user calls; detectors and tasks use it; the explorer and the
# exporter use those; the verbs use everything; the command line only parses, through the verbs.
FLOORS = [
    ("base", ("aekit.errors", "aekit._params", "aekit._memory", "aekit._jsonio",
              "aekit._atomic", "aekit._moved")),
    ("data", ("aekit.data", "aekit.nn", "aekit.preprocessing")),
    ("model", ("aekit.model", "aekit.checkpoint", "aekit._distributed", "aekit._device")),
    ("training", ("aekit.training", "aekit.persistence")),
    ("estimators", ("aekit.estimators", "aekit.callbacks", "aekit.plots", "aekit.runs",
                    "aekit.stream_output")),
    ("uses", ("aekit.detectors", "aekit.tasks", "aekit.report")),
    ("surfaces", ("aekit.export", "aekit.explorer")),
    ("verbs", ("aekit.verbs",)),
    ("entry", ("aekit.cli", "aekit.__main__", "aekit.commands", "aekit.train", "aekit")),
]
# Deprecated names kept working: each forwards to the room that now holds them.
FORWARDERS = {"aekit.commands", "aekit.train", "aekit.tasks.detect", "aekit.tasks.watch"}


def _floor(module: str) -> int:
    best = None
    for level, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (level, len(prefix))
    assert best is not None, f"{module} is in no room of FLOORS: give it one"
    return best[0]


def test_imports_point_down_the_floors():
    """An upward import (the library reaching for a verb, the data for an estimator) is refused."""
    upward = []
    for module, deps in _graph().items():
        if module in FORWARDERS or module == "aekit":
            continue
        upward += [f"{module} -> {dep}" for dep in deps
                   if _floor(dep) > _floor(module) and not module.startswith(dep + ".")]
    assert not upward, upward


def _sources():
    return sorted(PACKAGE.rglob("*.py"))


def _is_module(name: str) -> bool:
    return (PACKAGE.parent / (name.replace(".", "/") + ".py")).exists()


def _package(module: str) -> str:
    """The package a module belongs to (a package's __init__ belongs to the package itself)."""
    is_package = (PACKAGE.parent / module.replace(".", "/") / "__init__.py").exists()
    return module if is_package else module.rsplit(".", 1)[0]


def test_no_private_name_is_used_across_packages():
    """A name starting with "_" is imported or called only inside its own package (``aekit.x``),
    never by another: what one room needs of another is public, documented API."""
    found = []
    for path in _sources():
        module = _module_name(path)
        tree = ast.parse(path.read_text())
        defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
                private = [a.name for a in node.names  # (aekit's shared _modules are fine)
                           if a.name.startswith("_") and not a.name.startswith("__")
                           and not _is_module(f"{source}.{a.name}")]
                if private and _package(source) != _package(module):
                    found.append(f"{module} imports {private} from {source}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                attr, owner = node.func.attr, node.func.value
                if attr.startswith("_") and not attr.startswith("__") and attr not in defined and not (
                        isinstance(owner, ast.Name) and owner.id in ("self", "cls")) and not (
                        isinstance(owner, ast.Call) and getattr(owner.func, "id", "") == "super"):
                    found.append(f"{module}:{node.lineno} calls .{attr}()")
    assert not found, found


def test_rows_read_on_demand_are_told_apart_only_in_the_data_package():
    """Inside aekit every sample set is one type (``RowSource``); asking "array or rows?" is the
    data package's business, where data enter."""
    offenders = [f"{_module_name(p)}:{i}" for p in _sources() if "aekit/data/" not in p.as_posix()
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if "isinstance(" in line and "RowSource" in line]
    assert not offenders, offenders


MAX_FILE_LINES, MAX_FUNCTION_LINES = 500, 60


def test_files_and_functions_stay_small():
    long = []
    for path in _sources():
        text = path.read_text()
        if text.count("\n") > MAX_FILE_LINES:
            long.append(f"{_module_name(path)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{_module_name(path)}.{node.name}: {length} lines")
    assert not long, long


def test_moved_names_still_work_with_a_deprecation_warning():
    import warnings

    import aekit.commands
    import aekit.tasks.detect
    import aekit.train
    from aekit import detectors, training, verbs

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert aekit.tasks.detect.AnomalyDetector is detectors.AnomalyDetector
        assert aekit.train.TrainConfig is training.TrainConfig
        assert aekit.commands.train is verbs.train.train
        assert aekit.commands.load_model is verbs.common.load_model
    assert len(caught) == 4 and all(w.category is DeprecationWarning for w in caught)
    with pytest.raises(AttributeError):
        aekit.commands.no_such_verb  # noqa: B018
