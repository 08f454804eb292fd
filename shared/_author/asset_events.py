"""Asset events a user builds: materializations and observations, and an asset's result.

``AssetMaterialization`` and ``AssetObservation`` say that an asset changed
(or was looked at) somewhere, possibly outside lookout: a sensor reports them
with ``SensorResult(asset_events=[...])``, an op with ``context.log_event``,
a script with ``instance.report_runless_asset_event``.  ``MaterializeResult``
is what an asset returns to attach metadata to its own materialization.
Metadata is normalized to typed values, as Dagster does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lookout._author.asset_key import AssetKey
from lookout._author.metadata import MetadataValueType, normalize_metadata
from lookout._base.errors import DefinitionError

CoercibleKey = AssetKey | str | Sequence[str]


def _key(value: Any, what: str) -> AssetKey:
    key = getattr(value, "key", value)  # an asset or an AssetSpec stands for its key
    try:
        return AssetKey.from_coercible(key)
    except (TypeError, DefinitionError) as exc:
        raise DefinitionError(f"{what} needs an asset key, got {value!r:.80} ({exc})") from None


@dataclass(frozen=True, init=False)
class _AssetEvent:
    asset_key: AssetKey
    description: str | None
    metadata: Mapping[str, MetadataValueType]
    partition: str | None
    tags: Mapping[str, str]

    def __init__(
        self,
        asset_key: CoercibleKey,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        partition: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        what = type(self).__name__
        if partition is not None and not isinstance(partition, str):
            raise DefinitionError(f"{what} partition must be a str, got {partition!r}")
        object.__setattr__(self, "asset_key", _key(asset_key, what))
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "metadata", normalize_metadata(metadata))
        object.__setattr__(self, "partition", partition)
        object.__setattr__(self, "tags", dict(tags or {}))

    @property
    def label(self) -> str:
        return self.asset_key.to_user_string()


class AssetMaterialization(_AssetEvent):
    """An asset was materialized: by a run, a sensor's report or an outside system."""


class AssetObservation(_AssetEvent):
    """An asset was looked at (its metadata recorded) without being changed."""


@dataclass(frozen=True)
class MaterializeResult:
    """What an asset returns to add metadata to its materialization."""

    asset_key: CoercibleKey | None = None
    metadata: Mapping[str, Any] | None = None
    check_results: Sequence[Any] | None = None
    data_version: Any = None
    tags: Mapping[str, str] | None = None

    def normalized_metadata(self) -> dict[str, MetadataValueType]:
        return normalize_metadata(self.metadata)


AssetEvent = AssetMaterialization | AssetObservation
