"""The queries a test makes of the in-process instance: runs, run records, asset events.

``InstanceLog`` keeps, in this process, the events and runs that
``DagsterInstance`` records (storage ids ascend from 1, as Dagster's do)
and answers Dagster's queries over them: ``get_runs``/``get_run_records``
with a ``RunsFilter``, ``fetch_materializations``, ``get_event_records``,
``get_latest_materialization_event``, ``report_runless_asset_event``.
A deployment never uses it: there, runs and events live in Redis (its
instance, in the runtime, filters with the same ``asset_filter``,
``type_filter`` and ``run_filter``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lookout._author.asset_events import AssetMaterialization, AssetObservation
from lookout._author.asset_key import AssetKey
from lookout._author.event_records import (
    RUN_STATUS_OF_TYPE,
    AssetRecordsFilter,
    DagsterEventType,
    EventLogRecord,
    EventRecordsFilter,
    EventRecordsResult,
    RunRecord,
    RunsFilter,
)
from lookout._author.events import DagsterRun, EventLogEntry, entry_from_event
from lookout._author.metadata import metadata_to_wire
from lookout._base.errors import DefinitionError
from lookout._base.wire import EventKind, RunEvent

RUNLESS_JOB = "__RUNLESS__"
_ASSET_KINDS = {
    DagsterEventType.ASSET_MATERIALIZATION: EventKind.ASSET_MATERIALIZATION.value,
    DagsterEventType.ASSET_OBSERVATION: EventKind.ASSET_OBSERVATION.value,
}
Stored = tuple[int, RunEvent]


def _tags_match(wanted: Mapping[str, Any] | None, tags: Mapping[str, str]) -> bool:
    for key, value in (wanted or {}).items():
        accepted = [value] if isinstance(value, str) else list(value)
        if tags.get(key) not in accepted:
            return False
    return True


def _in_range(value: float, after: float | None, before: float | None) -> bool:
    return (after is None or value > after) and (before is None or value < before)


def asset_records_filter(records_filter: AssetKey | AssetRecordsFilter) -> AssetRecordsFilter:
    """What ``fetch_materializations`` / ``fetch_observations`` take: a key means all its events."""
    if isinstance(records_filter, AssetKey):
        return AssetRecordsFilter(records_filter)
    return records_filter


def asset_filter(kind: str, flt: AssetRecordsFilter) -> Callable[[Stored], bool]:
    key = flt.asset_key.to_user_string()

    def accept(stored: Stored) -> bool:
        sid, event = stored
        return (
            event.kind == kind
            and event.asset_key == key
            and (flt.asset_partitions is None or event.partition in flt.asset_partitions)
            and _in_range(sid, flt.after_storage_id, flt.before_storage_id)
            and _in_range(event.timestamp, flt.after_timestamp, flt.before_timestamp)
            and (flt.storage_ids is None or sid in flt.storage_ids)
            and _tags_match(flt.tags, event.tags)
        )

    return accept


def type_filter(flt: EventRecordsFilter) -> Callable[[Stored], bool]:
    try:
        event_type = DagsterEventType(flt.event_type)
    except ValueError:
        raise DefinitionError(
            f"EventRecordsFilter event_type {flt.event_type!r} is not one this instance keeps "
            f"({', '.join(t.name for t in DagsterEventType)})"
        ) from None
    status = RUN_STATUS_OF_TYPE.get(event_type)
    kind = _ASSET_KINDS.get(event_type, EventKind.RUN_STATUS.value)
    key = flt.asset_key.to_user_string() if flt.asset_key is not None else None

    def accept(stored: Stored) -> bool:
        sid, event = stored
        return (
            event.kind == kind
            and (status is None or event.status == status)
            and (key is None or event.asset_key == key)
            and (flt.asset_partitions is None or event.partition in flt.asset_partitions)
            and _in_range(sid, flt.after_cursor, flt.before_cursor)
            and _in_range(event.timestamp, flt.after_timestamp, flt.before_timestamp)
            and (flt.storage_ids is None or sid in flt.storage_ids)
            and _tags_match(flt.tags, event.tags)
        )

    return accept


def run_filter(flt: RunsFilter | None) -> Callable[[RunRecord], bool]:
    if flt is None:
        return lambda _record: True
    statuses = {str(s) for s in flt.statuses} if flt.statuses is not None else None

    def stamp(moment: datetime | None) -> float | None:
        return moment.timestamp() if moment is not None else None

    def accept(record: RunRecord) -> bool:
        run = record.dagster_run
        return (
            (flt.run_ids is None or run.run_id in flt.run_ids)
            and (flt.job_name is None or run.job_name == flt.job_name)
            and (statuses is None or run.status.value in statuses)
            and _tags_match(flt.tags, run.tags)
            and _in_range(
                record.create_timestamp.timestamp(),
                stamp(flt.created_after),
                stamp(flt.created_before),
            )
            and _in_range(
                record.update_timestamp.timestamp(),
                stamp(flt.updated_after),
                stamp(flt.updated_before),
            )
        )

    return accept


def runless_event(
    asset_event: AssetMaterialization | AssetObservation, now: float, sensor: str | None = None
) -> RunEvent:
    """The event stream's entry for an asset event no run produced (``sensor``: who reported it)."""
    observed = isinstance(asset_event, AssetObservation)
    kind = EventKind.ASSET_OBSERVATION if observed else EventKind.ASSET_MATERIALIZATION
    return RunEvent(
        kind=kind.value,
        run_id="",
        job_name=RUNLESS_JOB,
        timestamp=now,
        asset_key=asset_event.asset_key.to_user_string(),
        partition=asset_event.partition,
        tags=dict(asset_event.tags),
        sensor=sensor,
        metadata=metadata_to_wire(asset_event.metadata),
        description=asset_event.description,
    )


def record_of(stored: Stored) -> EventLogRecord:
    """An event with its storage id, as the record Dagster's queries return."""
    sid, event = stored
    return EventLogRecord(sid, entry_from_event(str(sid), event))


class InstanceLog:
    """Events and runs of this process, and Dagster's queries over them."""

    def __init__(self) -> None:
        self._log: list[Stored] = []
        self._run_records: dict[str, RunRecord] = {}

    # -- writing -----------------------------------------------------------------

    def store_event(self, event: RunEvent) -> int:
        """Append one event; returns its storage id."""
        sid = len(self._log) + 1
        self._log.append((sid, event))
        return sid

    def store_run(self, run: DagsterRun, created: float, ended: float | None) -> None:
        """Record a run (a later call for the same run id replaces it, keeping its creation)."""
        known = self._run_records.get(run.run_id)
        storage_id = known.storage_id if known else len(self._run_records) + 1
        create = known.create_timestamp if known else datetime.fromtimestamp(created, UTC)
        update = datetime.fromtimestamp(ended or created, UTC)
        self._run_records[run.run_id] = RunRecord(
            storage_id, run, create, update, start_time=created, end_time=ended
        )

    def report_runless_asset_event(
        self, asset_event: AssetMaterialization | AssetObservation
    ) -> None:
        """Record an asset event that no run produced (an outside system's, a script's)."""
        if not isinstance(asset_event, AssetMaterialization | AssetObservation):
            raise DefinitionError(
                "report_runless_asset_event takes an AssetMaterialization or an "
                f"AssetObservation, got {asset_event!r:.80}"
            )
        self.store_event(runless_event(asset_event, time.time()))

    # -- events ------------------------------------------------------------------

    def _page(
        self, accept: Callable[[Stored], bool], limit: int | None, cursor: str | None, asc: bool
    ) -> EventRecordsResult:
        after = int(cursor) if cursor else None
        found = [s for s in self._log if accept(s)]
        if not asc:
            found.reverse()
        if after is not None:
            found = [s for s in found if (s[0] > after if asc else s[0] < after)]
        page = found if limit is None else found[:limit]
        more = limit is not None and len(found) > limit
        next_cursor = str(page[-1][0]) if page else (cursor or "")
        return EventRecordsResult([record_of(s) for s in page], next_cursor, more)

    def fetch_materializations(
        self,
        records_filter: AssetKey | AssetRecordsFilter,
        limit: int,
        cursor: str | None = None,
        ascending: bool = False,
    ) -> EventRecordsResult:
        """Materializations of one asset, newest first unless ``ascending``; one page."""
        flt = asset_records_filter(records_filter)
        kind = EventKind.ASSET_MATERIALIZATION.value
        return self._page(asset_filter(kind, flt), limit, cursor, ascending)

    def fetch_observations(
        self,
        records_filter: AssetKey | AssetRecordsFilter,
        limit: int,
        cursor: str | None = None,
        ascending: bool = False,
    ) -> EventRecordsResult:
        flt = asset_records_filter(records_filter)
        kind = EventKind.ASSET_OBSERVATION.value
        return self._page(asset_filter(kind, flt), limit, cursor, ascending)

    def get_event_records(
        self,
        event_records_filter: EventRecordsFilter,
        limit: int | None = None,
        ascending: bool = False,
    ) -> list[EventLogRecord]:
        """Events of one type matching the filter, newest first unless ``ascending``."""
        page = self._page(type_filter(event_records_filter), limit, None, ascending)
        return list(page.records)

    def get_latest_materialization_event(self, asset_key: AssetKey) -> EventLogEntry | None:
        records = self.fetch_materializations(asset_key, limit=1).records
        return records[0].event_log_entry if records else None

    def get_materialized_partitions(self, asset_key: AssetKey) -> set[str]:
        key = asset_key.to_user_string()
        kind = EventKind.ASSET_MATERIALIZATION.value
        return {
            e.partition
            for _, e in self._log
            if e.kind == kind and e.asset_key == key and e.partition is not None
        }

    def all_logs(self, run_id: str) -> list[EventLogEntry]:
        """The events of one run, oldest first."""
        return [entry_from_event(str(sid), e) for sid, e in self._log if e.run_id == run_id]

    # -- runs --------------------------------------------------------------------

    def get_run_records(
        self,
        filters: RunsFilter | None = None,
        limit: int | None = None,
        order_by: str | None = None,
        ascending: bool = False,
    ) -> list[RunRecord]:
        """Runs matching ``filters``, newest first unless ``ascending``."""
        del order_by  # runs are ordered by creation, as Dagster's default
        accept = run_filter(filters)
        records = [r for r in self._run_records.values() if accept(r)]
        records.sort(key=lambda r: r.storage_id, reverse=not ascending)
        return records if limit is None else records[:limit]

    def get_runs(
        self, filters: RunsFilter | None = None, limit: int | None = None
    ) -> list[DagsterRun]:
        """Runs matching ``filters`` (all of them without), newest first."""
        return [r.dagster_run for r in self.get_run_records(filters, limit)]

    def get_runs_count(self, filters: RunsFilter | None = None) -> int:
        return len(self.get_run_records(filters))

    def get_run_by_id(self, run_id: str) -> DagsterRun | None:
        record = self._run_records.get(run_id)
        return record.dagster_run if record else None

    def get_run_record_by_id(self, run_id: str) -> RunRecord | None:
        return self._run_records.get(run_id)

    def has_run(self, run_id: str) -> bool:
        return run_id in self._run_records

    def stored_runs(self) -> Sequence[RunRecord]:
        return list(self._run_records.values())
