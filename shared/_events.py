"""What event sensors receive: Dagster-shaped views of lookout's run events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared._asset_key import AssetKey
from shared._context import SensorEvaluationContext
from shared._event_sensors import DagsterRunStatus
from shared._wire import RunEvent


@dataclass(frozen=True)
class DagsterEvent:
    """The event inside an ``EventLogEntry``; ``logging_tags`` are the run's tags."""

    event_type_value: str
    job_name: str
    asset_key: AssetKey | None = None
    partition: str | None = None
    logging_tags: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None


@dataclass(frozen=True)
class EventLogEntry:
    """One event an asset sensor is called with: ``asset_event.dagster_event...``."""

    run_id: str
    timestamp: float
    dagster_event: DagsterEvent
    storage_id: str = ""

    @property
    def asset_materialization(self) -> DagsterEvent:
        return self.dagster_event


@dataclass(frozen=True)
class DagsterRun:
    """The run a run-status sensor is told about."""

    run_id: str
    job_name: str
    status: DagsterRunStatus
    tags: Mapping[str, str] = field(default_factory=dict)


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
        ),
    )


class RunStatusSensorContext(SensorEvaluationContext):
    """The context of a run-status sensor: the run and the event that moved it."""

    def __init__(
        self, *, dagster_run: DagsterRun, dagster_event: DagsterEvent, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.dagster_run = dagster_run
        self.dagster_event = dagster_event

    @property
    def failure_event(self) -> DagsterEvent:
        return self.dagster_event

    def for_run_failure(self) -> RunFailureSensorContext:
        return RunFailureSensorContext(
            dagster_run=self.dagster_run,
            dagster_event=self.dagster_event,
            sensor_name=self.sensor_name,
            cursor=self.cursor,
        )


class RunFailureSensorContext(RunStatusSensorContext):
    """The context of a run-failure sensor; ``failure_event.message`` is the error."""


def build_run_status_sensor_context(
    sensor_name: str,
    dagster_run: DagsterRun,
    dagster_event: DagsterEvent,
    dagster_instance: Any = None,
) -> RunStatusSensorContext:
    """A context to call a run-status sensor as a plain function in a test."""
    return RunStatusSensorContext(
        sensor_name=sensor_name,
        dagster_run=dagster_run,
        dagster_event=dagster_event,
        instance=dagster_instance,
    )
