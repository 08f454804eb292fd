"""``MultiAssetSensorEvaluationContext``: what a multi-asset sensor reads and how it moves on.

The context reads materializations through an ``AssetEventSource`` (the
instance: in-process ``DagsterInstance``; a Redis-backed reader later) and
keeps one cursor component per monitored asset (``multi_asset_cursor``).
``advance_cursor``/``advance_all_cursors`` mark events consumed; the new
cursor is computed once, after the evaluation, as Dagster computes it.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from lookout._author.asset_key import AssetKey
from lookout._author.asset_selection import AssetSelection, coerce_key
from lookout._author.asset_sensor_eval import event_source
from lookout._author.context import SensorEvaluationContext
from lookout._author.event_records import AssetEventSource, AssetRecordsFilter, EventLogRecord
from lookout._author.multi_asset_cursor import AssetCursor, dump_cursor, parse_cursor
from lookout._base.errors import DefinitionError

BATCH = 1000


def _overlap(a: tuple[Any, Any], b: tuple[Any, Any]) -> bool:
    return bool(a[0] < b[1] and b[0] < a[1])


def monitored_keys(sensor_name: str, monitored: Any, definitions: Any) -> list[AssetKey]:
    """The keys a sensor monitors: given keys, or a selection resolved on the definitions."""
    if not isinstance(monitored, AssetSelection):
        return [coerce_key(k) for k in monitored]
    if definitions is None:
        raise DefinitionError(
            f"sensor '{sensor_name}' monitors an AssetSelection, which needs the code "
            "location's assets: pass definitions= (or repository_def=) to its context"
        )
    nodes = [*definitions.assets, *getattr(definitions, "asset_specs", ())]
    try:
        return monitored.resolve(nodes)
    except DefinitionError as exc:
        raise DefinitionError(f"sensor '{sensor_name}': {exc}") from None


class MultiAssetSensorEvaluationContext(SensorEvaluationContext):
    """The context of a multi-asset sensor (Dagster's, with the same methods)."""

    def __init__(
        self,
        *,
        monitored_assets: Sequence[Any] | AssetSelection,
        definitions: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        name = self.sensor_name or "unnamed"
        self._name = name
        self.definitions = definitions
        self._keys = monitored_keys(name, monitored_assets, definitions)
        known = {a.key: a for a in getattr(definitions, "assets", ())}
        self._assets_by_key = {k: known.get(k) for k in self._keys}
        self._components = parse_cursor(name, self.cursor)
        self._advanced: dict[AssetKey, set[int]] = defaultdict(set)
        self._partition_of: dict[int, str | None] = {}
        self._advance_all = False

    # -- reading -----------------------------------------------------------------

    @property
    def asset_keys(self) -> Sequence[AssetKey]:
        return self._keys

    @property
    def assets_defs_by_key(self) -> Mapping[AssetKey, Any]:
        return self._assets_by_key

    @property
    def _source(self) -> AssetEventSource:
        return event_source(self._name, self)

    def _cursor_of(self, key: AssetKey) -> AssetCursor:
        return self._components.get(str(key), AssetCursor())

    def _fetch(self, flt: AssetRecordsFilter) -> list[EventLogRecord]:
        records: list[EventLogRecord] = []
        cursor: str | None = None
        while True:
            page = self._source.fetch_materializations(flt, BATCH, cursor, ascending=True)
            records.extend(page.records)
            if not page.has_more:
                return records
            cursor = page.cursor

    def latest_materialization_records_by_key(
        self, asset_keys: Sequence[AssetKey] | None = None
    ) -> dict[AssetKey, EventLogRecord | None]:
        """The newest materialization of each asset, if newer than its cursor (else None)."""
        found: dict[AssetKey, EventLogRecord | None] = {}
        for key in asset_keys if asset_keys is not None else self._keys:
            page = self._source.fetch_materializations(key, limit=1)
            newest = page.records[0] if page.records else None
            consumed = self._cursor_of(key).latest_consumed_event_id or 0
            found[key] = newest if newest is not None and newest.storage_id > consumed else None
        return found

    def materialization_records_for_key(
        self, asset_key: AssetKey, limit: int | None = None
    ) -> list[EventLogRecord]:
        """The materializations of one monitored asset after its cursor, oldest first."""
        if asset_key not in self._assets_by_key:
            raise DefinitionError(f"sensor '{self._name}': asset {asset_key} is not monitored")
        flt = AssetRecordsFilter(
            asset_key, after_storage_id=self._cursor_of(asset_key).latest_consumed_event_id
        )
        if limit:
            return list(self._source.fetch_materializations(flt, limit, ascending=True).records)
        return self._fetch(flt)

    def _partitions_def(self, asset_key: AssetKey) -> Any:
        asset = self._assets_by_key.get(asset_key) or next(
            (a for a in getattr(self.definitions, "assets", ()) if a.key == asset_key), None
        )
        partitions_def = getattr(asset, "partitions_def", None)
        if partitions_def is None:
            raise DefinitionError(
                f"sensor '{self._name}': asset {asset_key} has no partitions in this code "
                "location, so it cannot be read or mapped by partition"
            )
        return partitions_def

    def _keys_of(self, partitions_def: Any) -> list[str] | None:
        keys = getattr(partitions_def, "get_partition_keys", None)
        if not callable(keys):
            return None
        if "dynamic_partitions_store" in inspect.signature(keys).parameters:
            return list(keys(dynamic_partitions_store=self.instance))
        return list(keys())

    def _partitions(self, asset_key: AssetKey) -> list[str] | None:
        """The asset's partition keys (None: any partition its events name)."""
        return self._keys_of(self._partitions_def(asset_key))

    def get_downstream_partition_keys(
        self, partition_key: str, from_asset_key: AssetKey, to_asset_key: AssetKey
    ) -> list[str]:
        """The partitions of ``to_asset_key`` that ``partition_key`` of ``from_asset_key`` maps to.

        The same partitions map one to one; time windows map to the windows they
        overlap (a day to its week, a week to its days), as Dagster's default
        mappings do.
        """
        source, target = self._partitions_def(from_asset_key), self._partitions_def(to_asset_key)
        keys = self._keys_of(target) or []
        if source == target:
            return [partition_key] if partition_key in keys else []
        window_of = getattr(source, "time_window_for_partition_key", None)
        target_window = getattr(target, "time_window_for_partition_key", None)
        if not (callable(window_of) and callable(target_window)):
            return [partition_key] if partition_key in keys else []
        start, end = window_of(partition_key)[:2]
        return [k for k in keys if _overlap(target_window(k)[:2], (start, end))]

    def _unconsumed(self, asset_key: AssetKey) -> list[EventLogRecord]:
        ids = list(self._cursor_of(asset_key).trailing_unconsumed_partitioned_event_ids.values())
        if not ids:
            return []
        return sorted(self._fetch(AssetRecordsFilter(asset_key, storage_ids=ids)))

    def get_trailing_unconsumed_events(self, asset_key: AssetKey) -> list[EventLogRecord]:
        return self._unconsumed(asset_key)

    def latest_materialization_records_by_partition(
        self, asset_key: AssetKey, after_cursor_partition: bool | None = False
    ) -> dict[str, EventLogRecord]:
        """The newest unconsumed materialization of each partition, in materialization order."""
        partitions = self._partitions(asset_key)
        cursor = self._cursor_of(asset_key)
        if after_cursor_partition and partitions and cursor.latest_consumed_event_partition:
            at = partitions.index(cursor.latest_consumed_event_partition)
            partitions = partitions[at + 1 :]
        by_partition: dict[str, EventLogRecord] = {}
        flt = AssetRecordsFilter(
            asset_key, asset_partitions=partitions, after_storage_id=cursor.latest_consumed_event_id
        )
        for record in [*self._unconsumed(asset_key), *self._fetch(flt)]:
            partition = record.partition_key
            if partition is None or (partitions is not None and partition not in partitions):
                continue
            by_partition.pop(partition, None)  # keep the order of the latest events
            by_partition[partition] = record
        return by_partition

    def latest_materialization_records_by_partition_and_asset(
        self,
    ) -> dict[str, dict[AssetKey, EventLogRecord]]:
        """``{partition: {asset key: newest unconsumed materialization}}`` over every asset."""
        defs = [getattr(self._assets_by_key.get(k), "partitions_def", None) for k in self._keys]
        if not defs or any(d is None or d != defs[0] for d in defs):
            raise DefinitionError(
                f"sensor '{self._name}': all monitored assets must be partitioned and share "
                "one partitions definition"
            )
        by_partition: dict[str, dict[AssetKey, EventLogRecord]] = defaultdict(dict)
        for key in self._keys:
            for partition, record in self.latest_materialization_records_by_partition(key).items():
                by_partition[partition][key] = record
        return dict(by_partition)

    def get_cursor_partition(self, asset_key: AssetKey | None) -> str | None:
        if asset_key is None and len(self._keys) == 1:
            asset_key = self._keys[0]
        if asset_key is None or asset_key not in self._keys:
            raise DefinitionError(f"sensor '{self._name}': name one of its monitored assets")
        return self._cursor_of(asset_key).latest_consumed_event_partition

    def all_partitions_materialized(
        self, asset_key: AssetKey, partitions: Sequence[str] | None = None
    ) -> bool:
        """Whether every one of ``partitions`` (all the asset's) was ever materialized."""
        if partitions is not None and len(partitions) == 0:
            raise DefinitionError(f"sensor '{self._name}': give at least one partition")
        wanted = list(partitions) if partitions is not None else self._partitions(asset_key)
        if wanted is None:
            raise DefinitionError(
                f"sensor '{self._name}': the partitions of {asset_key} cannot be listed; "
                "name the partitions to check"
            )
        done = self._source.get_materialized_partitions(asset_key)
        return all(p in done for p in wanted)

    # -- moving on ---------------------------------------------------------------

    def advance_cursor(self, materialization_records_by_key: Mapping[AssetKey, Any]) -> None:
        """Mark these records consumed; the cursor moves past them after the evaluation."""
        for key, record in materialization_records_by_key.items():
            if record is None:
                continue
            if not isinstance(record, EventLogRecord):
                raise DefinitionError(
                    f"sensor '{self._name}': advance_cursor takes event log records, "
                    f"got {record!r:.80} for {key}"
                )
            self._advanced[key].add(record.storage_id)
            self._partition_of[record.storage_id] = record.partition_key
        self._cursor_updated = True

    def advance_all_cursors(self) -> None:
        """Mark every materialization of every monitored asset consumed."""
        self.advance_cursor(self.latest_materialization_records_by_key())
        self._advance_all = True
        self._cursor_updated = True

    def update_cursor_after_evaluation(self) -> None:
        """Fold the advances of this evaluation into the cursor (once per evaluation)."""
        if not self._advanced:
            return
        components = {k: self._advanced_cursor(k) for k in self._keys}
        self._cursor = dump_cursor(components)
        self._components = {str(k): c for k, c in components.items()}
        self._advanced = defaultdict(set)
        self._partition_of = {}
        self._advance_all = False

    def _advanced_cursor(self, key: AssetKey) -> AssetCursor:
        advanced = self._advanced.get(key, set())
        start = self._cursor_of(key)
        if not advanced:
            return start
        greatest = max(advanced)
        moved = greatest > (start.latest_consumed_event_id or 0)
        trailing: dict[str, int] = {}
        if not self._advance_all:
            trailing = dict(start.trailing_unconsumed_partitioned_event_ids)
            between = AssetRecordsFilter(
                key, after_storage_id=start.latest_consumed_event_id, before_storage_id=greatest
            )
            passed = [*self._unconsumed(key), *self._fetch(between)] if moved else []
            for record in passed:
                partition = record.partition_key
                if partition is None:
                    continue
                if record.storage_id not in advanced:
                    trailing[partition] = record.storage_id
                else:
                    trailing.pop(partition, None)
            trailing.pop(self._partition_of[greatest] or "", None)
        return AssetCursor(
            self._partition_of[greatest] if moved else start.latest_consumed_event_partition,
            greatest if moved else start.latest_consumed_event_id,
            trailing,
        )


def build_multi_asset_sensor_context(
    *,
    monitored_assets: Sequence[Any] | AssetSelection,
    repository_def: Any = None,
    instance: Any = None,
    cursor: str | None = None,
    repository_name: str | None = None,
    cursor_from_latest_materializations: bool = False,
    resources: Any = None,
    definitions: Any = None,
    last_sensor_start_time: float | None = None,
    sensor_name: str | None = None,
) -> MultiAssetSensorEvaluationContext:
    """A context to call a multi-asset sensor as a plain function in a test."""
    del repository_name, last_sensor_start_time
    defs = definitions if definitions is not None else repository_def
    if cursor_from_latest_materializations:
        if cursor:
            raise DefinitionError("give cursor or cursor_from_latest_materializations, not both")
        if instance is None:
            raise DefinitionError("cursor_from_latest_materializations needs an instance")
        components: dict[AssetKey, AssetCursor] = {}
        for key in monitored_keys(sensor_name or "unnamed", monitored_assets, defs):
            records = instance.fetch_materializations(key, limit=1).records
            if records:
                components[key] = AssetCursor(records[0].partition_key, records[0].storage_id)
        cursor = dump_cursor(components)
    return MultiAssetSensorEvaluationContext(
        monitored_assets=monitored_assets,
        definitions=defs,
        cursor=cursor,
        instance=instance,
        resources=resources,
        sensor_name=sensor_name,
    )
