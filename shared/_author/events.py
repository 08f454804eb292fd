"""What event sensors receive: Dagster-shaped views of lookout's run events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lookout._author.asset_events import AssetMaterialization, AssetObservation
from lookout._author.asset_key import AssetKey
from lookout._author.metadata import metadata_from_wire
from lookout._author.runs import DagsterRunStatus, RunInfo
from lookout._base.wire import EventKind, RunEvent


@dataclass(frozen=True)
class StepMaterializationData:
    """``dagster_event.event_specific_data`` of an asset event: the event the user sees."""

    materialization: AssetMaterialization | None = None
    observation: AssetObservation | None = None


@dataclass(frozen=True)
class DagsterEvent:
    """The event inside an ``EventLogEntry``; ``logging_tags`` are the run's tags."""

    event_type_value: str
    job_name: str
    asset_key: AssetKey | None = None
    partition: str | None = None
    logging_tags: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None
    event_specific_data: Any = None

    @property
    def event_type(self) -> str:
        return self.event_type_value

    @property
    def partition_key(self) -> str | None:
        return self.partition

    @property
    def is_step_materialization(self) -> bool:
        return self.event_type_value == EventKind.ASSET_MATERIALIZATION.value


@dataclass(frozen=True)
class EventLogEntry:
    """One event an asset sensor is called with: ``asset_event.dagster_event...``."""

    run_id: str
    timestamp: float
    dagster_event: DagsterEvent
    storage_id: str = ""

    @property
    def dagster_event_type(self) -> str:
        return self.dagster_event.event_type_value

    @property
    def is_dagster_event(self) -> bool:
        return True

    @property
    def job_name(self) -> str | None:
        """The job of the run that logged this event."""
        return self.dagster_event.job_name

    @property
    def asset_materialization(self) -> AssetMaterialization | None:
        """The materialization this entry records, with its metadata (None for other events)."""
        data = self.dagster_event.event_specific_data
        return data.materialization if isinstance(data, StepMaterializationData) else None

    @property
    def asset_observation(self) -> AssetObservation | None:
        data = self.dagster_event.event_specific_data
        return data.observation if isinstance(data, StepMaterializationData) else None


_FINISHED = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


@dataclass(frozen=True)
class DagsterRun:
    """The run a run-status sensor is told about."""

    run_id: str
    job_name: str
    status: DagsterRunStatus
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_run(cls, run: DagsterRun | RunInfo) -> DagsterRun:
        """The run as sensors see it; ``result.dagster_run`` of an in-process run converts."""
        if isinstance(run, DagsterRun):
            return run
        return cls(run.run_id, run.job_name, DagsterRunStatus(run.status), dict(run.tags))

    # Dagster's status questions about a run.
    @property
    def is_finished(self) -> bool:
        return self.status in _FINISHED

    @property
    def is_success(self) -> bool:
        return self.status == DagsterRunStatus.SUCCESS

    @property
    def is_failure(self) -> bool:
        return self.status == DagsterRunStatus.FAILURE

    @property
    def is_failure_or_canceled(self) -> bool:
        return self.status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


def _specific_data(event: RunEvent) -> StepMaterializationData | None:
    if event.asset_key is None:
        return None
    args = (
        event.asset_key,
        event.description,
        metadata_from_wire(event.metadata),
        event.partition,
    )
    if event.kind == EventKind.ASSET_MATERIALIZATION.value:
        return StepMaterializationData(materialization=AssetMaterialization(*args))
    if event.kind == EventKind.ASSET_OBSERVATION.value:
        return StepMaterializationData(observation=AssetObservation(*args))
    return None


def entry_from_event(event_id: str, event: RunEvent) -> EventLogEntry:
    tags = dict(event.tags)
    return EventLogEntry(
        run_id=event.run_id,
        timestamp=event.timestamp,
        storage_id=event_id,
        dagster_event=DagsterEvent(
            event_type_value=event.kind,
            job_name=event.job_name,
            asset_key=AssetKey.from_user_string(event.asset_key) if event.asset_key else None,
            partition=event.partition,
            logging_tags=tags,
            message=event.message,
            event_specific_data=_specific_data(event),
        ),
    )
