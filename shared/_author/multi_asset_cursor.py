"""The cursor of a multi-asset sensor: one component per monitored asset, in Dagster's format.

The stored cursor is JSON: ``{str(asset_key): [latest_consumed_event_partition,
latest_consumed_event_id, {partition: trailing_unconsumed_event_id}]}`` -- the
same string Dagster keeps, so a cursor moves between the two unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lookout._author.asset_key import AssetKey
from lookout._base.errors import DefinitionError


@dataclass(frozen=True)
class AssetCursor:
    """Where a multi-asset sensor stands on one asset (Dagster's cursor component)."""

    latest_consumed_event_partition: str | None = None
    latest_consumed_event_id: int | None = None
    trailing_unconsumed_partitioned_event_ids: dict[str, int] = field(default_factory=dict)

    def to_list(self) -> list[Any]:
        return [
            self.latest_consumed_event_partition,
            self.latest_consumed_event_id,
            dict(self.trailing_unconsumed_partitioned_event_ids),
        ]


def _component(sensor_name: str, key: str, value: Any) -> AssetCursor:
    ok = (
        isinstance(value, list)
        and len(value) == 3
        and (value[0] is None or isinstance(value[0], str))
        and (value[1] is None or (isinstance(value[1], int) and not isinstance(value[1], bool)))
        and isinstance(value[2], dict)
        and all(isinstance(k, str) and isinstance(v, int) for k, v in value[2].items())
    )
    if not ok:
        raise DefinitionError(
            f"sensor '{sensor_name}': the cursor entry for {key} is {value!r:.80}, not a "
            "multi-asset sensor cursor [partition, event id, {partition: event id}]; "
            "reset the sensor's cursor to start over"
        )
    return AssetCursor(value[0], value[1], dict(value[2]))


def parse_cursor(sensor_name: str, cursor: Any) -> dict[str, AssetCursor]:
    """The per-asset components of a stored cursor (empty for no cursor)."""
    if cursor is None or cursor == "":
        return {}
    try:
        loaded = json.loads(cursor) if isinstance(cursor, str | bytes) else None
    except ValueError:
        loaded = None
    if not isinstance(loaded, dict):
        raise DefinitionError(
            f"sensor '{sensor_name}': cursor {cursor!r:.80} is not a multi-asset sensor cursor "
            "(a JSON object of one entry per asset); reset the sensor's cursor to start over"
        )
    return {key: _component(sensor_name, key, value) for key, value in loaded.items()}


def dump_cursor(components: dict[AssetKey, AssetCursor]) -> str:
    """The cursor string Dagster would store for these components."""
    return json.dumps({str(k): c.to_list() for k, c in components.items()})
