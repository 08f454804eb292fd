"""The layers of the ``lookout`` package import only downwards, and no module imports in a circle.

Read from the source folders as text (``ast``), so a forbidden import fails
this test whether or not it would ever run, including imports inside functions
and under ``TYPE_CHECKING``.  The layers, top to bottom:

    tools       lookout._tools, lookout.testing     (CLI, monitor, dev; testing helpers)
                lookout.client                      (the push API's Python client)
                and lookout.__main__                (``python -m lookout``)
    processes   lookout.scheduler, lookout.workers, lookout._process
    author API  lookout._author      core  lookout._core   (side by side)
    base        lookout._base                       (errors, wire types, codec)

``lookout`` itself (``shared/__init__.py``) is the public face: it re-exports
the author API, and nothing inside the package imports it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "lookout": ROOT / "shared",
    "lookout.scheduler": ROOT / "scheduler",
    "lookout.workers": ROOT / "workers",
}

LAYER_OF_PREFIX = {
    # Re-exports the author API's test helpers at Dagster's private path
    # (``dagster._core.test_utils``): the public face's layer, checked first.
    "lookout._core.test_utils": "face",
    "lookout._base": "base",
    "lookout._author": "author",
    "lookout._core": "core",
    "lookout._process": "processes",
    "lookout.scheduler": "processes",
    "lookout.workers": "processes",
    "lookout._tools": "tools",
    "lookout.testing": "tools",
    "lookout.client": "tools",
    "lookout.__main__": "tools",
}
MAY_IMPORT = {
    "base": {"base"},
    "author": {"author", "base"},
    "core": {"core", "base"},
    "processes": {"processes", "author", "core", "base"},
    "tools": {"tools", "processes", "author", "core", "base"},
    "face": {"author", "core", "base"},
}


def package_sources() -> dict[str, str]:
    """Every module of the installed package, by its dotted name, with its source."""
    sources: dict[str, str] = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            sources.setdefault(name, path.read_text())
    return sources


def layer(module: str) -> str | None:
    if module == "lookout":
        return "face"
    for prefix, name in LAYER_OF_PREFIX.items():
        if module == prefix or module.startswith(prefix + "."):
            return name
    return None


def imports_of(module: str, source: str, known: Iterable[str]) -> set[str]:
    """The lookout modules ``module`` imports, wherever in it the import stands."""
    known = set(known)
    is_package = f"{module}.__init__" in known or any(k.startswith(module + ".") for k in known)
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop] if drop else anchor
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return {name for name in found if name == "lookout" or name.startswith("lookout.")}


def graph(sources: Mapping[str, str]) -> dict[str, set[str]]:
    return {name: imports_of(name, text, sources) - {name} for name, text in sources.items()}


def layer_violations(edges: Mapping[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(edges.items()):
        mine = layer(module)
        for target in sorted(targets):
            theirs = layer(target)
            if mine is None or theirs is None or theirs not in MAY_IMPORT[mine]:
                found.append(f"{module} ({mine}) imports {target} ({theirs})")
    return found


def reachable(edges: Mapping[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(edges.get(start, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(edges.get(node, ()))
    return seen


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Each group of modules that import one another in a circle, once."""
    reach = {node: reachable(edges, node) for node in edges}
    found: list[list[str]] = []
    for node in sorted(edges):
        circle = sorted(other for other in reach[node] if node in reach.get(other, ()))
        if circle and circle not in found:
            found.append(circle)
    return found


def test_every_module_imports_only_its_own_layer_or_the_ones_below() -> None:
    assert layer_violations(graph(package_sources())) == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert cycles(graph(package_sources())) == []


def test_every_module_belongs_to_a_layer() -> None:
    assert [name for name in package_sources() if layer(name) is None] == []


def test_an_author_module_importing_the_runtime_is_caught() -> None:
    sources = package_sources()
    sources["lookout._author.sensors"] += "\nfrom lookout._core.storage import Repositories\n"
    assert layer_violations(graph(sources)) == [
        "lookout._author.sensors (author) imports lookout._core.storage (core)"
    ]


def test_a_core_module_importing_a_tool_inside_a_function_is_caught() -> None:
    sources = package_sources()
    sources["lookout._core.keys"] += "\ndef _late() -> None:\n    from lookout._tools import cli\n"
    assert layer_violations(graph(sources)) == [
        "lookout._core.keys (core) imports lookout._tools.cli (tools)"
    ]


def test_a_circle_between_two_modules_is_caught() -> None:
    sources = package_sources()
    sources["lookout._base.wire"] += "\nfrom lookout._base import codec\n"
    sources["lookout._base.codec"] += "\nimport lookout._base.wire\n"
    assert ["lookout._base.codec", "lookout._base.wire"] in cycles(graph(sources))
