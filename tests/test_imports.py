"""genai's modules import each other one way: no cycles, and gradio only inside genai/ui.

The graph is read from the source with `ast`, not by importing it, so it sees every import:
those at the top of a file and those tucked inside functions (which hide a cycle from Python
until the function runs, but not from a reader who wants to know which module depends on which).
"""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "genai"


def module_name(path, root=PACKAGE):
    """genai/ui/blocks.py -> "genai.ui.blocks"; genai/ui/__init__.py -> "genai.ui"."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root=PACKAGE):
    """name -> file of every module of the package at root."""
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def imported_names(path, name, known):
    """Every genai module the file imports, wherever the import statement sits.

    `from X import y` imports X.y when y is a module (`from . import metrics`), else X itself;
    relative imports are resolved against the file's own package.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # one dot: this package; each further dot: one package up
                base = package.rsplit(".", node.level - 1)[0]
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module
            submodules = {f"{source}.{alias.name}" for alias in node.names} & set(known)
            found.update(submodules)
            if len(submodules) < len(node.names):  # some names are the package's own attributes
                found.add(source)
    return {target for target in found if target in known and target != name}


def import_graph(root=PACKAGE):
    """module -> the set of genai modules it imports."""
    known = modules(root)
    return {name: imported_names(path, name, known) for name, path in known.items()}


def find_cycle(graph):
    """One import cycle as a list of modules [a, b, ..., a], or None when the graph has none."""
    state = {}  # module -> "open" while on the current path, "done" once all it reaches is explored
    path = []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def layers(graph):
    """The modules in layers: each imports only modules of the layers before it (the graph has no cycle)."""
    placed, result = set(), []
    while len(placed) < len(graph):
        layer = sorted(name for name in graph if name not in placed and graph[name] <= placed)
        assert layer, "a cycle: no module is left whose imports are all placed"
        result.append(layer)
        placed.update(layer)
    return result


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_chain():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) is None
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_the_graph_sees_imports_inside_functions_and_relative_ones(tmp_path):
    root = tmp_path / "genai"
    (root / "ui").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "metrics.py").write_text("from .checkpoints import load_model\n")
    (root / "checkpoints.py").write_text("import torch\n\ndef load_model():\n    from . import metrics\n")
    (root / "ui" / "__init__.py").write_text("from .tab import build\n")
    (root / "ui" / "tab.py").write_text("from .. import __version__, metrics\nimport genai.checkpoints\n")
    graph = import_graph(root)
    assert graph == {
        "genai": set(), "genai.checkpoints": {"genai.metrics"}, "genai.metrics": {"genai.checkpoints"},
        "genai.ui": {"genai.ui.tab"}, "genai.ui.tab": {"genai", "genai.metrics", "genai.checkpoints"},
    }
    assert find_cycle(graph) == ["genai.checkpoints", "genai.metrics", "genai.checkpoints"]


def test_genai_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 30 and "genai.ui.blocks" in graph  # the walk found the package
    cycle = find_cycle(graph)
    assert cycle is None, "genai imports in a circle: " + " -> ".join(cycle)


def reachable(graph, start):
    """Every module that importing start imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_data_flows_one_way_the_engine_reaches_neither_sharing_nor_measurement_nor_the_ui():
    """data -> models -> train -> checkpoints -> sampling -> ui: the engine knows nothing of what is built on it."""
    graph = import_graph()
    above = {"genai.hub", "genai.model_card", "genai.metrics", "genai.classifier", "genai.__main__"}
    above |= {name for name in graph if name.startswith("genai.ui")}
    for engine in ("genai.data", "genai.models", "genai.train", "genai.checkpoints", "genai.sampling"):
        assert not reachable(graph, engine) & above, f"{engine} imports {sorted(reachable(graph, engine) & above)}"
    outside_ui = [name for name in graph if not name.startswith("genai.ui")]
    assert not [name for name in outside_ui if any(target.startswith("genai.ui") for target in graph[name])]


def outside_packages(node):
    """The top-level packages an import statement names (none for a relative import)."""
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom) and not node.level:
        return {node.module.split(".")[0]}
    return set()


def test_only_genai_ui_imports_gradio():
    offenders = []
    for name, path in modules().items():
        if name == "genai.ui" or name.startswith("genai.ui."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if outside_packages(node) & {"gradio", "gradio_client"}:
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, "gradio is imported outside genai/ui: " + ", ".join(offenders)


def test_the_modules_that_share_the_test_app_server_are_the_ones_run_together_in_parallel():
    """tests/conftest.py hands the app server's modules to one worker: a module that starts to use the server
    (importing app_server, or a fixture from a module that does) must be on its list, or two servers would run."""
    from conftest import APP_SERVER_MODULES

    files = {path.stem: path for path in (REPO / "tests").glob("*.py")}
    imports = {name: imported_names(path, name, files) for name, path in files.items()}
    uses_server = {"app_server"}
    while True:  # through fixtures imported from other test modules
        more = {name for name, found in imports.items() if found & uses_server} - uses_server
        if not more:
            break
        uses_server |= more
    assert {f"{name}.py" for name in uses_server if name.startswith("test_")} == APP_SERVER_MODULES


if __name__ == "__main__":  # python tests/test_imports.py prints the layers, lowest first
    for number, layer in enumerate(layers(import_graph())):
        print(number, " ".join(name.removeprefix("genai.") for name in layer))
