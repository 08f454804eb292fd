"""The context a run-status or run-failure sensor receives, and how a test builds one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lookout._author.context import SensorEvaluationContext
from lookout._author.events import DagsterEvent, DagsterRun
from lookout._author.requests import PARTITION_TAG
from lookout._author.runs import RunInfo

if TYPE_CHECKING:
    from lookout._author.instance import DagsterInstance


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
            definitions=self.definitions,
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
    *,
    repository_def: Any = None,
) -> RunStatusSensorContext:
    """A context to call a run-status sensor as a plain function in a test.

    The arguments are Dagster's, in Dagster's order; ``dagster_run`` may be
    ``execute_in_process(...).dagster_run`` as it is.  Without
    ``partition_key`` the context reads the partition from the run's tags;
    ``repository_def`` is the code location's ``Definitions`` (``@repository``).
    """
    return RunStatusSensorContext(
        sensor_name=sensor_name,
        dagster_run=DagsterRun.from_run(dagster_run),
        dagster_event=dagster_event,
        partition_key=partition_key,
        instance=dagster_instance,
        resources=resources,
        log=context.log if context is not None else None,
        definitions=repository_def,
    )
