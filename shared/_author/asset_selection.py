"""``AssetSelection``: a set of assets named by key, group, graph neighbourhood or set algebra.

A selection is a small expression resolved against the assets of a code
location: ``AssetSelection.assets("a", other_asset)``, ``.keys(...)``,
``.groups(...)``, ``.all()``, ``.upstream()``, ``.downstream()`` and the
operators ``|``, ``&``, ``-``.  Naming an asset the location does not have is
a ``DefinitionError`` that lists the unknown keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lookout._author.asset_key import AssetKey
from lookout._base.errors import DefinitionError


class AssetNode(Protocol):
    """What a selection needs of an asset: its key, its upstream keys, its group."""

    @property
    def key(self) -> AssetKey: ...

    @property
    def deps(self) -> Sequence[AssetKey]: ...

    @property
    def group_name(self) -> str | None: ...


def coerce_key(item: Any) -> AssetKey:
    """An asset key from a key, a ``"a/b"`` string, a list of parts, an asset or a spec."""
    key = getattr(item, "key", item)
    if isinstance(key, AssetKey | str) or (
        isinstance(key, Sequence) and all(isinstance(p, str) for p in key)
    ):
        return AssetKey.from_coercible(key)
    raise DefinitionError(f"{item!r:.80} is not an asset or an asset key")


Graph = dict[AssetKey, AssetNode]


def _walk(
    graph: Graph,
    start: set[AssetKey],
    step: Callable[[AssetKey], Iterable[AssetKey]],
    depth: int | None,
) -> set[AssetKey]:
    seen, frontier, level = set(start), set(start), 0
    while frontier and (depth is None or level < depth):
        frontier = {n for k in frontier for n in step(k) if n in graph and n not in seen}
        seen |= frontier
        level += 1
    return seen


@dataclass(frozen=True)
class AssetSelection:
    """A set of assets, resolved against a code location's assets with ``resolve``."""

    op: str
    keys_: tuple[AssetKey, ...] = ()
    names: tuple[str, ...] = ()
    parts: tuple[AssetSelection, ...] = ()
    depth: int | None = None
    include_self: bool = True

    @classmethod
    def all(cls, include_external_assets: bool = False) -> AssetSelection:
        del include_external_assets
        return cls("all")

    @classmethod
    def keys(cls, *keys: Any) -> AssetSelection:
        return cls("keys", tuple(coerce_key(k) for k in keys))

    @classmethod
    def assets(cls, *assets: Any) -> AssetSelection:
        return cls("keys", tuple(coerce_key(a) for a in assets))

    @classmethod
    def groups(cls, *group_strs: str, include_sources: bool = False) -> AssetSelection:
        del include_sources
        return cls("groups", names=tuple(group_strs))

    def upstream(self, depth: int | None = None, include_self: bool = True) -> AssetSelection:
        return AssetSelection("upstream", parts=(self,), depth=depth, include_self=include_self)

    def downstream(self, depth: int | None = None, include_self: bool = True) -> AssetSelection:
        return AssetSelection("downstream", parts=(self,), depth=depth, include_self=include_self)

    def __or__(self, other: AssetSelection) -> AssetSelection:
        return AssetSelection("or", parts=(self, other))

    def __and__(self, other: AssetSelection) -> AssetSelection:
        return AssetSelection("and", parts=(self, other))

    def __sub__(self, other: AssetSelection) -> AssetSelection:
        return AssetSelection("sub", parts=(self, other))

    def resolve(self, assets: Iterable[AssetNode]) -> list[AssetKey]:
        """The selected keys, in the order of ``assets``; unknown named keys are an error."""
        graph: Graph = {a.key: a for a in assets}
        unknown = sorted(k.to_user_string() for k in self._named() if k not in graph)
        if unknown:
            raise DefinitionError(f"asset selection names unknown assets {unknown}")
        chosen = self._keys(graph)
        return [k for k in graph if k in chosen]

    def _named(self) -> set[AssetKey]:
        return set(self.keys_).union(*(p._named() for p in self.parts))

    def _keys(self, graph: Graph) -> set[AssetKey]:
        if self.op == "all":
            return set(graph)
        if self.op == "keys":
            return set(self.keys_)
        if self.op == "groups":
            return {k for k, a in graph.items() if a.group_name in self.names}
        sets = [p._keys(graph) for p in self.parts]
        combine = _SET_OPS.get(self.op)
        return combine(sets[0], sets[1]) if combine else self._neighbours(graph, sets[0])

    def _neighbours(self, graph: Graph, start: set[AssetKey]) -> set[AssetKey]:
        if self.op == "upstream":
            found = _walk(graph, start, lambda k: graph[k].deps, self.depth)
        else:
            children: dict[AssetKey, list[AssetKey]] = {}
            for key, node in graph.items():
                for dep in node.deps:
                    children.setdefault(dep, []).append(key)
            found = _walk(graph, start, lambda k: children.get(k, []), self.depth)
        return found if self.include_self else found - start


_SET_OPS: dict[str, Callable[[set[AssetKey], set[AssetKey]], set[AssetKey]]] = {
    "or": set.union,
    "and": set.intersection,
    "sub": set.difference,
}


def coerce_selection(selection: Any) -> AssetSelection:
    """A selection from what Dagster accepts: None or ``"*"`` (all), a selection, keys, assets."""
    if selection is None or selection == "*":
        return AssetSelection.all()
    if isinstance(selection, AssetSelection):
        return selection
    if isinstance(selection, str) or not isinstance(selection, Iterable):
        return AssetSelection.keys(selection)
    items = list(selection)
    if all(isinstance(s, AssetSelection) for s in items) and items:
        combined: AssetSelection = items[0]
        for s in items[1:]:
            combined = combined | s
        return combined
    return AssetSelection.keys(*items)
