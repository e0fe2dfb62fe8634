"""The layers point one way and no modules import each other in a circle, checked on the source (every import
statement, those inside functions included, since a lazy import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("qa", "embeddings", "tui")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(name: str, modules: set[str]) -> str | None:
    """The first-party module an imported name lives in (`qa.index.local.store.IndexDir` -> `qa.index.local.store`)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    paths = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    modules = {_module_name(p) for p in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        source = _module_name(path)
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            targets |= {t for t in (_resolve(n, modules) for n in names) if t and t != source}
        # a package's __init__ is imported with any of its modules: count it as a parent, not a dependency
        graph[source] = {t for t in targets if not source.startswith(f"{t}.")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the checker sees one
    graph = import_graph()
    assert (
        "qa.index.seam" in graph["qa.index.local.store"] and "qa.index.local.store" in graph["qa.index"]
    )  # lazy imports count
    assert cycles(graph) == []


def test_embeddings_know_nothing_of_the_application():
    graph = import_graph()
    leaks = {m: sorted(t for t in ts if t.split(".")[0] in ("qa", "tui")) for m, ts in graph.items()}
    assert {m: ts for m, ts in leaks.items() if m.startswith("embeddings") and ts} == {}


def test_only_the_cli_knows_the_ui():
    graph = import_graph()
    knows_ui = sorted(m for m, ts in graph.items() if m.startswith("qa") and any(t.startswith("tui") for t in ts))
    assert knows_ui == ["qa.cli.asking"]  # `chat` opens the UI


def test_the_embedding_interface_does_not_import_its_backends():
    backends = {"embeddings.onnx", "embeddings.sentence_transformer"}
    assert not import_graph()["embeddings.base"] & backends


# The layers, from the bottom: a module imports only from its own rank or below (lazy imports included).
# `embeddings/` is a side leaf that imports nothing of the application (test above).
RANK = {
    "qa": 0,  # the package itself, imported with any of its modules
    "qa.errors": 0,
    "qa.paths": 0,
    "qa.text": 1,  # pure functions over strings
    "qa.ingest": 2,  # files to articles
    "qa.index": 3,  # the seam, the update written once, the backends
    "qa.retrieve": 4,
    "qa.reader": 5,  # the trained reader, used by the answer step
    "qa.answer": 5,
    "qa.settings": 6,
    "qa.pipeline": 6,  # the Assistant
    "qa.present": 7,  # text for people, for the CLI and the chat
    "qa.eval": 8,
    "qa.serve": 8,
    "tui": 8,
    "qa.cli": 9,
    "qa.__main__": 9,
}


def rank_of(module: str) -> int:
    """The rank of a module: that of the longest prefix in RANK (every module has one)."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in RANK:
            return RANK[prefix]
    raise KeyError(f"{module} has no rank: add its package to RANK")


def test_every_import_points_down_the_layers():
    graph = import_graph()
    upward = sorted(
        f"{source} ({rank_of(source)}) imports {target} ({rank_of(target)})"
        for source, targets in graph.items()
        if not source.startswith("embeddings")
        for target in targets
        if not target.startswith("embeddings") and rank_of(target) > rank_of(source)
    )
    assert not upward, upward


def test_backends_are_sealed():
    """The local backend and Milvus never import each other or anything above the index; outside `qa.index`
    only its factory names them."""
    graph = import_graph()
    backends = ("qa.index.local", "qa.index.milvus")
    for source, targets in graph.items():
        mine = next((b for b in backends if source.startswith(b)), None)
        if mine is not None:
            assert not [t for t in targets if t.startswith(backends) and not t.startswith(mine)], source
            assert all(rank_of(t) <= RANK["qa.index"] for t in targets if not t.startswith("embeddings")), source
        elif source != "qa.index":
            assert not [t for t in targets if t.startswith(backends)], source


def test_the_ui_reaches_the_core_through_the_assistant():
    """The chat never opens an index or reads files itself: no ingest, no backend."""
    graph = import_graph()
    for source, targets in graph.items():
        if source.startswith("tui"):
            assert not [t for t in targets if t.startswith(("qa.index", "qa.ingest"))], (source, targets)


def test_test_modules_share_helpers_not_each_other():
    """What two test modules need lives in tests/helpers/: a test module imported by another would run its
    tests' module-level code twice and tie the suites together."""
    leaks = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            leaks += [f"{path.name} imports {n}" for n in names if n.startswith("tests.test_")]
    assert leaks == []
