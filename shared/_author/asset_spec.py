"""``AssetSpec``: an asset lookout knows of but does not compute (an external asset).

A spec gives an asset its key, upstream dependencies, group, metadata and
description.  In ``Definitions(assets=[...])`` it makes the key known, so
sensors may monitor it, assets may depend on it and ``SensorResult`` may
report events for it; no job materializes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lookout._author.asset_key import AssetKey
from lookout._author.asset_selection import coerce_key
from lookout._author.metadata import MetadataValueType, normalize_metadata


@dataclass(frozen=True, init=False)
class AssetSpec:
    """An asset's description: key, deps, group, metadata (Dagster's ``AssetSpec``)."""

    key: AssetKey
    deps: tuple[AssetKey, ...]
    description: str | None
    metadata: Mapping[str, MetadataValueType]
    group_name: str | None
    kinds: frozenset[str]
    tags: Mapping[str, str]
    owners: tuple[str, ...]
    skippable: bool
    code_version: str | None
    partitions_def: Any = field(default=None)

    def __init__(
        self,
        key: AssetKey | str | Sequence[str],
        *,
        deps: Iterable[Any] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        skippable: bool = False,
        group_name: str | None = None,
        code_version: str | None = None,
        owners: Sequence[str] | None = None,
        tags: Mapping[str, str] | None = None,
        kinds: Iterable[str] | None = None,
        partitions_def: Any = None,
        automation_condition: Any = None,
        legacy_freshness_policy: Any = None,
    ) -> None:
        del automation_condition, legacy_freshness_policy  # accepted, not evaluated
        set_ = object.__setattr__
        set_(self, "key", coerce_key(key))
        set_(self, "deps", tuple(coerce_key(d) for d in deps or ()))
        set_(self, "description", description)
        set_(self, "metadata", normalize_metadata(metadata))
        set_(self, "group_name", group_name)
        set_(self, "kinds", frozenset(kinds or ()))
        set_(self, "tags", dict(tags or {}))
        set_(self, "owners", tuple(owners or ()))
        set_(self, "skippable", skippable)
        set_(self, "code_version", code_version)
        set_(self, "partitions_def", partitions_def)

    def replace_attributes(self, **changes: Any) -> AssetSpec:
        """A copy with some attributes changed (Dagster's ``replace_attributes``)."""
        if "deps" in changes:
            changes["deps"] = tuple(coerce_key(d) for d in changes["deps"])
        if "key" in changes:
            changes["key"] = coerce_key(changes["key"])
        return replace(self, **changes)

    @property
    def asset_deps(self) -> dict[AssetKey, set[AssetKey]]:
        """``{key: upstream keys}``, as an ``AssetsDefinition``'s ``asset_deps``."""
        return {self.key: set(self.deps)}

    @property
    def keys(self) -> set[AssetKey]:
        return {self.key}

    @property
    def is_external(self) -> bool:
        return True
