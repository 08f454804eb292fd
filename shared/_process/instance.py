"""``context.instance`` on a worker: Dagster's instance queries over lookout's Redis state.

A sensor evaluated by the runtime gets a ``RuntimeInstance``.  It answers
the queries Dagster's docs make of ``context.instance`` (and is the
``AssetEventSource`` that asset and multi-asset sensors read) from the
storage layer, each bounded:

- asset events of one asset come from that asset's own stream
  (``AssetEventLog``), read after or before a storage id a page at a time:
  never the events of other assets;
- event queries that name no asset read the event stream newest first (or
  after their cursor), at most ``SCAN_EVENTS`` entries;
- run queries read one run index (a sensor's, a status's, or all runs) by
  creation time, newest first, at most ``SCAN_RUNS`` runs, and stop at the limit.

``report_runless_asset_event`` keeps the event for the tick's commit (one
instance per tick: ``for_tick``), so it is appended atomically with the
tick, once, as ``SensorResult(asset_events=...)`` is: a failed tick reports
nothing, unlike Dagster, which writes the event at once.

Storage ids are the stream entry ids packed as integers
(``lookout._core.streams.storage_id``), so they ascend as Dagster's do and a
multi-asset sensor's per-asset cursor holds them as Dagster's would.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from lookout._author.asset_events import AssetMaterialization, AssetObservation
from lookout._author.asset_key import AssetKey
from lookout._author.event_records import (
    AssetRecordsFilter,
    DagsterEventType,
    EventLogRecord,
    EventRecordsFilter,
    EventRecordsResult,
    RunRecord,
    RunsFilter,
)
from lookout._author.events import DagsterRun, EventLogEntry
from lookout._author.instance_queries import (
    Stored,
    asset_filter,
    asset_records_filter,
    record_of,
    run_filter,
    type_filter,
)
from lookout._author.requests import SENSOR_NAME_TAG
from lookout._author.runs import DagsterRunStatus
from lookout._base.errors import DefinitionError
from lookout._base.wire import EventKind
from lookout._base.wire import RunRecord as WireRunRecord
from lookout._core.storage import AssetEventLog, DynamicPartitionStore, EventStream, RunStore
from lookout._core.streams import entry_id, storage_id
from lookout._process.dynamic_partitions import RedisDynamicPartitions

# The most events a query that names no asset reads, and runs a run query reads.
SCAN_EVENTS = 10_000
SCAN_RUNS = 10_000
PAGE = 200

_ASSET_TYPES = {
    DagsterEventType.ASSET_MATERIALIZATION.value: False,
    DagsterEventType.ASSET_OBSERVATION.value: True,
}


def _stored(entries: Sequence[tuple[str, Any]]) -> list[Stored]:
    return [(storage_id(eid), event) for eid, event in entries]


def _bound(*ids: int | None, pick: Callable[[list[int]], int]) -> str | None:
    given = [i for i in ids if i is not None]
    return entry_id(pick(given)) if given else None


def _run_record(run: WireRunRecord) -> RunRecord:
    updated = run.ended_at or run.started_at or run.created_at
    return RunRecord(
        storage_id=int(run.created_at * 1_000_000),
        dagster_run=DagsterRun(run.run_id, run.job_name, DagsterRunStatus(run.status), run.tags),
        create_timestamp=datetime.fromtimestamp(run.created_at, UTC),
        update_timestamp=datetime.fromtimestamp(updated, UTC),
        start_time=run.started_at,
        end_time=run.ended_at,
    )


def _stamp(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def _sensor_of(flt: RunsFilter | None) -> str | None:
    """The sensor whose run index answers ``flt``: its sensor tag, when it names one."""
    value = (flt.tags or {}).get(SENSOR_NAME_TAG) if flt else None
    if isinstance(value, str):
        return value
    if value is not None and len(value) == 1:
        return str(value[0])
    return None


class RuntimeInstance(RedisDynamicPartitions):
    """Dagster's instance queries and ``AssetEventSource``, on lookout's storage (see module)."""

    def __init__(
        self,
        assets: AssetEventLog,
        events: EventStream,
        runs: RunStore,
        partitions: DynamicPartitionStore,
    ) -> None:
        super().__init__(partitions)
        self.assets = assets
        self.events = events
        self.runs = runs
        # Asset events reported through this instance, for its tick's commit.
        self.reported: list[AssetMaterialization | AssetObservation] = []

    def for_tick(self) -> RuntimeInstance:
        """An instance for one tick: the same storage, its own reported events."""
        return RuntimeInstance(self.assets, self.events, self.runs, self._partitions)

    def report_runless_asset_event(
        self, asset_event: AssetMaterialization | AssetObservation
    ) -> None:
        """Report an asset event no run produced; it commits with the tick (see module)."""
        if not isinstance(asset_event, AssetMaterialization | AssetObservation):
            raise DefinitionError(
                "report_runless_asset_event takes an AssetMaterialization or an "
                f"AssetObservation, got {asset_event!r:.80}"
            )
        self.reported.append(asset_event)

    # -- asset events ------------------------------------------------------------

    def _asset_records(
        self,
        flt: AssetRecordsFilter,
        observed: bool,
        limit: int | None,
        cursor: str | None,
        ascending: bool,
    ) -> tuple[list[Stored], bool]:
        """Matching events of one asset in the order asked, up to ``limit``; and whether more."""
        kind = (EventKind.ASSET_OBSERVATION if observed else EventKind.ASSET_MATERIALIZATION).value
        accept = asset_filter(kind, flt)
        key = flt.asset_key.to_user_string()
        after_cursor = int(cursor) if cursor and ascending else None
        before_cursor = int(cursor) if cursor and not ascending else None
        if flt.storage_ids is not None:
            ids = [entry_id(i) for i in sorted(set(flt.storage_ids), reverse=not ascending)]
            found = _stored(self.assets.by_ids(key, ids, observed=observed))
            found = [
                s
                for s in found
                if accept(s)
                and (after_cursor is None or s[0] > after_cursor)
                and (before_cursor is None or s[0] < before_cursor)
            ]
            return (found if limit is None else found[:limit]), (
                limit is not None and len(found) > limit
            )
        after = _bound(flt.after_storage_id, after_cursor, pick=max)
        before = _bound(flt.before_storage_id, before_cursor, pick=min)
        found = []
        # A page of limit + 1 tells whether there is more; a filter may need further pages.
        count = PAGE if limit is None else min(PAGE, limit + 1)
        for page in self._asset_pages(key, observed, (after, before), count, ascending):
            found += [s for s in page if accept(s)]
            if limit is not None and len(found) > limit:
                return found[:limit], True
        return found, False

    def _asset_pages(
        self,
        key: str,
        observed: bool,
        bounds: tuple[str | None, str | None],
        count: int,
        ascending: bool,
    ) -> Iterator[list[Stored]]:
        after, before = bounds
        while True:
            page = _stored(
                self.assets.page(
                    key,
                    observed=observed,
                    after=after,
                    before=before,
                    count=count,
                    newest_first=not ascending,
                )
            )
            if page:
                yield page
            if len(page) < count:
                return
            count = min(PAGE, count * 2)  # a filter that skips much reads on in larger pages
            if ascending:
                after = entry_id(page[-1][0])
            else:
                before = entry_id(page[-1][0])

    def _fetch(
        self,
        records_filter: AssetKey | AssetRecordsFilter,
        observed: bool,
        limit: int,
        cursor: str | None,
        ascending: bool,
    ) -> EventRecordsResult:
        flt = asset_records_filter(records_filter)
        found, more = self._asset_records(flt, observed, limit, cursor, ascending)
        next_cursor = str(found[-1][0]) if found else (cursor or "")
        return EventRecordsResult([record_of(s) for s in found], next_cursor, more)

    def fetch_materializations(
        self,
        records_filter: AssetKey | AssetRecordsFilter,
        limit: int,
        cursor: str | None = None,
        ascending: bool = False,
    ) -> EventRecordsResult:
        """Materializations of one asset, newest first unless ``ascending``; one page."""
        return self._fetch(records_filter, False, limit, cursor, ascending)

    def fetch_observations(
        self,
        records_filter: AssetKey | AssetRecordsFilter,
        limit: int,
        cursor: str | None = None,
        ascending: bool = False,
    ) -> EventRecordsResult:
        """Observations of one asset, newest first unless ``ascending``; one page."""
        return self._fetch(records_filter, True, limit, cursor, ascending)

    def get_latest_materialization_event(self, asset_key: AssetKey) -> EventLogEntry | None:
        records = self.fetch_materializations(asset_key, limit=1).records
        return records[0].event_log_entry if records else None

    def get_materialized_partitions(self, asset_key: AssetKey) -> set[str]:
        return set(self.assets.materialized_partitions(asset_key.to_user_string()))

    def get_event_records(
        self,
        event_records_filter: EventRecordsFilter,
        limit: int | None = None,
        ascending: bool = False,
    ) -> list[EventLogRecord]:
        """Events of one type matching the filter, newest first unless ``ascending``."""
        flt = event_records_filter
        event_type = str(getattr(flt.event_type, "value", flt.event_type))
        accept = type_filter(flt)  # also refuses an event type lookout does not keep
        if event_type in _ASSET_TYPES and flt.asset_key is not None:
            per_asset = AssetRecordsFilter(
                flt.asset_key,
                asset_partitions=flt.asset_partitions,
                after_timestamp=flt.after_timestamp,
                before_timestamp=flt.before_timestamp,
                after_storage_id=flt.after_cursor,
                before_storage_id=flt.before_cursor,
                storage_ids=flt.storage_ids,
                tags=flt.tags,
            )
            found, _ = self._asset_records(
                per_asset, _ASSET_TYPES[event_type], limit, None, ascending
            )
            return [record_of(s) for s in found]
        return [record_of(s) for s in self._scan_events(flt, accept, limit, ascending)]

    def _scan_events(
        self,
        flt: EventRecordsFilter,
        accept: Callable[[Stored], bool],
        limit: int | None,
        ascending: bool,
    ) -> list[Stored]:
        """Matching events among at most ``SCAN_EVENTS`` of the stream, from the cursor."""
        found: list[Stored] = []
        after = entry_id(flt.after_cursor) if flt.after_cursor is not None else "0-0"
        before = entry_id(flt.before_cursor) if flt.before_cursor is not None else None
        read = 0
        while read < SCAN_EVENTS and (limit is None or len(found) < limit):
            if ascending:
                page = self.events.read(after, PAGE)
                page = [p for p in page if before is None or storage_id(p[0]) < storage_id(before)]
            else:
                page = self.events.read_back(before, PAGE)
                page = [p for p in page if storage_id(p[0]) > storage_id(after)]
            found += [s for s in _stored(page) if accept(s)]
            read += len(page)
            if len(page) < PAGE:
                break
            after, before = (page[-1][0], before) if ascending else (after, page[-1][0])
        return found if limit is None else found[:limit]

    # -- runs --------------------------------------------------------------------

    def get_run_records(
        self,
        filters: RunsFilter | None = None,
        limit: int | None = None,
        order_by: str | None = None,
        ascending: bool = False,
    ) -> list[RunRecord]:
        """Runs matching ``filters``, newest first unless ``ascending`` (see module: bounded)."""
        del order_by  # runs are ordered by creation, as Dagster's default
        accept = run_filter(filters)
        if filters is not None and filters.run_ids is not None:
            found = [_run_record(r) for r in self.runs.get_many(list(filters.run_ids))]
            found = sorted((r for r in found if accept(r)), key=lambda r: r.storage_id)
            found = found if ascending else found[::-1]
            return found if limit is None else found[:limit]
        statuses = (
            [str(getattr(s, "value", s)) for s in (filters.statuses or [])] if filters else []
        )
        sensor = _sensor_of(filters)
        per_index = [
            self._runs_of_index(filters, accept, limit, ascending, status=s, sensor=sensor)
            for s in (statuses if statuses and sensor is None else [None])
        ]
        merged = list(heapq.merge(*per_index, key=lambda r: r.storage_id, reverse=not ascending))
        return merged if limit is None else merged[:limit]

    def _runs_of_index(
        self,
        filters: RunsFilter | None,
        accept: Callable[[RunRecord], bool],
        limit: int | None,
        ascending: bool,
        *,
        status: str | None,
        sensor: str | None,
    ) -> list[RunRecord]:
        found: list[RunRecord] = []
        offset = 0
        while offset < SCAN_RUNS and (limit is None or len(found) < limit):
            ids = self.runs.ids_by_created(
                status=status,
                sensor=sensor,
                after=_stamp(filters.created_after) if filters else None,
                before=_stamp(filters.created_before) if filters else None,
                offset=offset,
                count=PAGE,
                newest_first=not ascending,
            )
            found += [r for r in map(_run_record, self.runs.get_many(ids)) if accept(r)]
            offset += len(ids)
            if len(ids) < PAGE:
                break
        return found if limit is None else found[:limit]

    def get_runs(
        self, filters: RunsFilter | None = None, limit: int | None = None
    ) -> list[DagsterRun]:
        """Runs matching ``filters``, newest first."""
        return [r.dagster_run for r in self.get_run_records(filters, limit)]

    def get_runs_count(self, filters: RunsFilter | None = None) -> int:
        return len(self.get_run_records(filters))

    def get_run_record_by_id(self, run_id: str) -> RunRecord | None:
        run = self.runs.get(run_id)
        return _run_record(run) if run is not None else None

    def get_run_by_id(self, run_id: str) -> DagsterRun | None:
        record = self.get_run_record_by_id(run_id)
        return record.dagster_run if record else None

    def has_run(self, run_id: str) -> bool:
        return self.runs.get(run_id) is not None
