"""Records of the event log and of runs, and the filters that query them, as Dagster names them.

``EventLogRecord`` is an event with its storage id (ascending, as Dagster's
are); ``AssetRecordsFilter``/``EventRecordsFilter`` and ``RunsFilter`` say
which records a query wants.  ``AssetEventSource`` is the small interface
that asset sensors and multi-asset sensors read through: the in-process
``DagsterInstance`` implements it, and a Redis-backed reader can too.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from lookout._author.asset_events import AssetMaterialization, AssetObservation
from lookout._author.asset_key import AssetKey
from lookout._author.events import DagsterRun, EventLogEntry
from lookout._author.runs import DagsterRunStatus


class DagsterEventType(enum.StrEnum):
    """The kinds of events the log keeps, with Dagster's values."""

    ASSET_MATERIALIZATION = "ASSET_MATERIALIZATION"
    ASSET_OBSERVATION = "ASSET_OBSERVATION"
    RUN_START = "PIPELINE_START"
    RUN_SUCCESS = "PIPELINE_SUCCESS"
    RUN_FAILURE = "PIPELINE_FAILURE"
    RUN_CANCELED = "PIPELINE_CANCELED"


# The run status each run event type stands for in lookout's RUN_STATUS events.
RUN_STATUS_OF_TYPE = {
    DagsterEventType.RUN_START: DagsterRunStatus.STARTED.value,
    DagsterEventType.RUN_SUCCESS: DagsterRunStatus.SUCCESS.value,
    DagsterEventType.RUN_FAILURE: DagsterRunStatus.FAILURE.value,
    DagsterEventType.RUN_CANCELED: DagsterRunStatus.CANCELED.value,
}


@dataclass(frozen=True, order=True)
class EventLogRecord:
    """One event of the log with its storage id; records order by storage id."""

    storage_id: int
    event_log_entry: EventLogEntry = field(compare=False)

    @property
    def asset_key(self) -> AssetKey | None:
        return self.event_log_entry.dagster_event.asset_key

    @property
    def partition_key(self) -> str | None:
        return self.event_log_entry.dagster_event.partition

    @property
    def timestamp(self) -> float:
        return self.event_log_entry.timestamp

    @property
    def run_id(self) -> str:
        return self.event_log_entry.run_id

    @property
    def asset_materialization(self) -> AssetMaterialization | None:
        return self.event_log_entry.asset_materialization

    @property
    def asset_event(self) -> AssetMaterialization | AssetObservation | None:
        """The materialization or observation this record holds (None for run events)."""
        entry = self.event_log_entry
        return entry.asset_materialization or entry.asset_observation

    @property
    def event_type(self) -> DagsterEventType:
        return DagsterEventType(self.event_log_entry.dagster_event_type)


@dataclass(frozen=True)
class AssetRecordsFilter:
    """Which events of one asset a query wants (Dagster's ``AssetRecordsFilter``)."""

    asset_key: AssetKey
    asset_partitions: Sequence[str] | None = None
    after_timestamp: float | None = None
    before_timestamp: float | None = None
    after_storage_id: int | None = None
    before_storage_id: int | None = None
    storage_ids: Sequence[int] | None = None
    tags: Mapping[str, str] | None = None


@dataclass(frozen=True)
class EventRecordsFilter:
    """Which events of one type a query wants (Dagster's ``EventRecordsFilter``)."""

    event_type: DagsterEventType | str
    asset_key: AssetKey | None = None
    asset_partitions: Sequence[str] | None = None
    after_cursor: int | None = None
    before_cursor: int | None = None
    after_timestamp: float | None = None
    before_timestamp: float | None = None
    storage_ids: Sequence[int] | None = None
    tags: Mapping[str, str] | None = None


@dataclass(frozen=True)
class EventRecordsResult:
    """One page of records; ``cursor`` continues after it, ``has_more`` says if it should."""

    records: Sequence[EventLogRecord]
    cursor: str
    has_more: bool


@dataclass(frozen=True)
class RunsFilter:
    """Which runs a query wants (Dagster's ``RunsFilter``); every field given must match."""

    run_ids: Sequence[str] | None = None
    job_name: str | None = None
    statuses: Sequence[DagsterRunStatus | str] | None = None
    tags: Mapping[str, str | Sequence[str]] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None


@dataclass(frozen=True)
class RunRecord:
    """A run with its storage id and times (Dagster's ``RunRecord``)."""

    storage_id: int
    dagster_run: DagsterRun
    create_timestamp: datetime
    update_timestamp: datetime
    start_time: float | None = None
    end_time: float | None = None


class AssetEventSource(Protocol):
    """What asset and multi-asset sensors read: the materializations of assets, by storage id."""

    def fetch_materializations(
        self,
        records_filter: AssetKey | AssetRecordsFilter,
        limit: int,
        cursor: str | None = None,
        ascending: bool = False,
    ) -> EventRecordsResult: ...

    def get_materialized_partitions(self, asset_key: AssetKey) -> set[str]: ...
