"""Sensors that react to other sensors' failures (a lookout extension, absent in Dagster).

Every FAILURE tick (the sensor raised, timed out, returned garbage, its
process died, or its tick was lost) is told on lookout's event stream.  A
``@sensor_failure_sensor`` is an event sensor fed by those: its function is
called once per failed tick of the sensors it monitors (all but itself by
default) with a ``SensorFailureContext``, and may ask for runs, as a
run-failure sensor does for failed runs.  Dagster users alert on sensor
failures from outside (dagster#29625); here a sensor can.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

from lookout._author.context import SensorEvaluationContext
from lookout._author.sensors import (
    Common,
    JobLike,
    SensorDefinition,
    SensorKind,
    Targets,
    make_sensor,
)
from lookout._base.errors import DefinitionError
from lookout._base.wire import DefaultSensorStatus

P = ParamSpec("P")
R = TypeVar("R")


class SensorFailureContext(SensorEvaluationContext):
    """What a ``sensor_failure_sensor`` is told of one failed tick of another sensor."""

    def __init__(
        self,
        *,
        failed_sensor_name: str,
        tick_id: str,
        error: str,
        failure_time: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.failed_sensor_name = failed_sensor_name
        self.tick_id = tick_id
        self.error = error
        self.failure_time = failure_time


def build_sensor_failure_context(
    failed_sensor_name: str,
    error: str,
    *,
    tick_id: str = "test-tick",
    failure_time: float = 0.0,
    sensor_name: str | None = None,
    resources: Any = None,
    instance: Any = None,
) -> SensorFailureContext:
    """A context to call a ``sensor_failure_sensor`` as a plain function in a test."""
    return SensorFailureContext(
        failed_sensor_name=failed_sensor_name,
        tick_id=tick_id,
        error=error,
        failure_time=failure_time,
        sensor_name=sensor_name,
        resources=resources,
        instance=instance,
    )


class SensorFailureSensorDefinition(SensorDefinition[P, R]):
    """A sensor fed by other sensors' failed ticks (``sensor_failure_sensor``)."""


def _monitored(given: Sequence[Any] | None) -> list[str]:
    names = []
    for s in given or []:
        name = s if isinstance(s, str) else getattr(s, "name", None)
        if not isinstance(name, str):
            raise DefinitionError(
                f"sensor_failure_sensor monitored_sensors takes sensors or names, got {s!r}"
            )
        names.append(name)
    return names


def sensor_failure_sensor(
    name: str | None = None,
    *,
    monitored_sensors: Sequence[Any] | None = None,
    minimum_interval_seconds: int | float | None = None,
    description: str | None = None,
    request_job: JobLike | None = None,
    request_jobs: Sequence[JobLike] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    tags: Mapping[str, str] | None = None,
) -> Callable[[Callable[P, R]], SensorDefinition[P, R]]:
    """A sensor called once per FAILURE tick of the sensors it monitors (a lookout extension).

    ``monitored_sensors``: sensor definitions or names (default: every other
    sensor and schedule).  A sensor's own failures never feed it.  Its first
    tick starts at the newest event, as a run-status sensor's.
    """

    def wrap(fn: Callable[P, R]) -> SensorDefinition[P, R]:
        common = Common(name, minimum_interval_seconds, description, default_status, tags)
        watched = _monitored(monitored_sensors)
        return make_sensor(
            fn,
            common,
            Targets(request_job, request_jobs),
            SensorFailureSensorDefinition,
            kind=SensorKind.SENSOR_FAILURE,
            options={"monitored_sensors": watched, "monitor_all": not watched},
        )

    return wrap
