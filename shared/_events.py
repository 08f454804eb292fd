"""What event sensors receive: Dagster-shaped views of lookout's run events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared._asset_key import AssetKey
from shared._context import SensorEvaluationContext
from shared._event_sensors import DagsterRunStatus
from shared._execute import RunInfo
from shared._requests import PARTITION_TAG
from shared._wire import RunEvent

if TYPE_CHECKING:
    from shared._instance import DagsterInstance


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

    @classmethod
    def from_run(cls, run: DagsterRun | RunInfo) -> DagsterRun:
        """The run as sensors see it; ``result.dagster_run`` of an in-process run converts."""
        if isinstance(run, DagsterRun):
            return run
        return cls(run.run_id, run.job_name, DagsterRunStatus(run.status), dict(run.tags))


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
        self,
        *,
        dagster_run: DagsterRun,
        dagster_event: DagsterEvent,
        partition_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dagster_run = dagster_run
        self.dagster_event = dagster_event
        self._partition_key = partition_key

    @property
    def failure_event(self) -> DagsterEvent:
        return self.dagster_event

    @property
    def partition_key(self) -> str | None:
        """The partition of the run the sensor is told about, if it has one."""
        return self._partition_key or self.dagster_run.tags.get(PARTITION_TAG)

    def for_run_failure(self) -> RunFailureSensorContext:
        return RunFailureSensorContext(
            dagster_run=self.dagster_run,
            dagster_event=self.dagster_event,
            partition_key=self._partition_key,
            sensor_name=self.sensor_name,
            cursor=self.cursor,
            instance=self.instance,
            resources=self.resources,
            log=self.log,
        )


class RunFailureSensorContext(RunStatusSensorContext):
    """The context of a run-failure sensor; ``failure_event.message`` is the error."""


def build_run_status_sensor_context(
    sensor_name: str,
    dagster_event: DagsterEvent,
    dagster_instance: DagsterInstance | None,
    dagster_run: DagsterRun | RunInfo,
    context: SensorEvaluationContext | None = None,
    resources: Any = None,
    partition_key: str | None = None,
) -> RunStatusSensorContext:
    """A context to call a run-status sensor as a plain function in a test.

    The arguments are Dagster's, in Dagster's order; ``dagster_run`` may be
    ``execute_in_process(...).dagster_run`` as it is.  Without
    ``partition_key`` the context reads the partition from the run's tags.
    """
    return RunStatusSensorContext(
        sensor_name=sensor_name,
        dagster_run=DagsterRun.from_run(dagster_run),
        dagster_event=dagster_event,
        partition_key=partition_key,
        instance=dagster_instance,
        resources=resources,
        log=context.log if context is not None else None,
    )
