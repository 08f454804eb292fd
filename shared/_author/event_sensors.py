"""Sensors fed by lookout's own event stream: asset sensors and run-status sensors.

They are ordinary sensors whose tick reads the events after their cursor and
calls the user's function once per matching event (see ``lookout._process.event_ticks``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar, overload

from lookout._author.asset_key import AssetKey
from lookout._author.runs import DagsterRunStatus
from lookout._author.selectors import CodeLocationSelector, RepositorySelector
from lookout._author.sensors import (
    AssetSensorDefinition,
    Common,
    JobLike,
    SensorDefinition,
    SensorKind,
    Targets,
    make_sensor,
)
from lookout._base.wire import DefaultSensorStatus

P = ParamSpec("P")
R = TypeVar("R")


def asset_sensor(
    asset_key: AssetKey | str | Sequence[str],
    *,
    job: JobLike | None = None,
    jobs: Sequence[JobLike] | None = None,
    target: Any = None,
    job_name: str | None = None,
    name: str | None = None,
    minimum_interval_seconds: int | float | None = None,
    description: str | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    tags: Mapping[str, str] | None = None,
    required_resource_keys: Any = None,
    metadata: Mapping[str, Any] | None = None,
) -> Callable[[Callable[P, R]], SensorDefinition[P, R]]:
    """A sensor called as ``fn(context, asset_event)`` once per materialization of a key."""

    def wrap(fn: Callable[P, R]) -> SensorDefinition[P, R]:
        common = Common(name, minimum_interval_seconds, description, default_status, tags)
        targets = Targets(job, jobs, target, None, job_name)
        return make_sensor(
            fn,
            common,
            targets,
            AssetSensorDefinition,
            asset_key=asset_key,
            metadata=metadata,
            required_resource_keys=required_resource_keys,
        )

    return wrap


class RunStatusSensorDefinition(SensorDefinition[P, R]):
    """A run-status (or run-failure) sensor: Dagster's class, for ``isinstance`` checks.

    Its tick hands it one run event at a time (``lookout._process.event_ticks``).
    """


def _run_status_options(
    run_status: DagsterRunStatus, monitored_jobs: Sequence[Any] | None, monitor_all: bool
) -> dict[str, Any]:
    jobs = list(monitored_jobs or [])
    # lookout has one code location: selecting a location selects all its jobs.
    whole = any(isinstance(j, CodeLocationSelector | RepositorySelector) for j in jobs)
    names = [
        j if isinstance(j, str) else getattr(j, "name", None) or getattr(j, "job_name", None)
        for j in jobs
        if not isinstance(j, CodeLocationSelector | RepositorySelector)
    ]
    return {
        "run_status": run_status.value,
        "monitored_jobs": [n for n in names if n],
        "monitor_all": monitor_all or whole or not monitored_jobs,
    }


def run_status_sensor(
    run_status: DagsterRunStatus,
    name: str | None = None,
    minimum_interval_seconds: int | float | None = None,
    description: str | None = None,
    monitored_jobs: Sequence[Any] | None = None,
    job_selection: Sequence[Any] | None = None,
    monitor_all_code_locations: bool = False,
    monitor_all_repositories: bool = False,
    request_job: JobLike | None = None,
    request_jobs: Sequence[JobLike] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Callable[[Callable[P, R]], SensorDefinition[P, R]]:
    """A sensor called once per run that reaches ``run_status``."""
    monitored = monitored_jobs or job_selection

    def wrap(fn: Callable[P, R]) -> SensorDefinition[P, R]:
        common = Common(name, minimum_interval_seconds, description, default_status, tags)
        return make_sensor(
            fn,
            common,
            Targets(request_job, request_jobs),
            RunStatusSensorDefinition,
            kind=SensorKind.RUN_STATUS,
            metadata=metadata,
            options=_run_status_options(
                run_status, monitored, monitor_all_code_locations or monitor_all_repositories
            ),
        )

    return wrap


@overload
def run_failure_sensor(fn: Callable[P, R], /) -> SensorDefinition[P, R]: ...


@overload
def run_failure_sensor(
    *,
    name: str | None = None,
    minimum_interval_seconds: int | float | None = None,
    description: str | None = None,
    monitored_jobs: Sequence[Any] | None = None,
    job_selection: Sequence[Any] | None = None,
    monitor_all_code_locations: bool = False,
    monitor_all_repositories: bool = False,
    request_job: JobLike | None = None,
    request_jobs: Sequence[JobLike] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Callable[[Callable[P, R]], SensorDefinition[P, R]]: ...


def run_failure_sensor(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    minimum_interval_seconds: int | float | None = None,
    description: str | None = None,
    monitored_jobs: Sequence[Any] | None = None,
    job_selection: Sequence[Any] | None = None,
    monitor_all_code_locations: bool = False,
    monitor_all_repositories: bool = False,
    request_job: JobLike | None = None,
    request_jobs: Sequence[JobLike] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> SensorDefinition[P, R] | Callable[[Callable[P, R]], SensorDefinition[P, R]]:
    """A sensor called once per run that fails: ``@run_failure_sensor`` or with arguments."""
    decorator: Callable[[Callable[P, R]], SensorDefinition[P, R]] = run_status_sensor(
        DagsterRunStatus.FAILURE,
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        description=description,
        monitored_jobs=monitored_jobs,
        job_selection=job_selection,
        monitor_all_code_locations=monitor_all_code_locations,
        monitor_all_repositories=monitor_all_repositories,
        request_job=request_job,
        request_jobs=request_jobs,
        default_status=default_status,
        tags=tags,
        metadata=metadata,
    )
    return decorator(fn) if fn is not None else decorator
