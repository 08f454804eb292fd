"""``@schedule`` and ``build_schedule_from_partitioned_job``: the ways to make a schedule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from lookout._author.partition_requests import partition_request
from lookout._author.partitions import TimeWindowPartitionsDefinition
from lookout._author.requests import RunRequest, SkipReason
from lookout._author.schedules import (
    DefaultScheduleStatus,
    ScheduleDefinition,
    ScheduleEvaluationContext,
)
from lookout._base.errors import DefinitionError


def schedule(
    cron_schedule: str | list[str],
    job_name: str | None = None,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
    tags_fn: Callable[..., Any] | None = None,
    should_execute: Callable[..., bool] | None = None,
    environment_vars: Mapping[str, str] | None = None,
    execution_timezone: str | None = None,
    description: str | None = None,
    job: Any = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
    required_resource_keys: Any = None,
    target: Any = None,
    metadata: Any = None,
) -> Callable[[Callable[..., Any]], ScheduleDefinition]:
    """Define a schedule whose function says what to run at each scheduled time."""
    del environment_vars, tags_fn, should_execute  # accepted for Dagster compatibility

    def wrap(fn: Callable[..., Any]) -> ScheduleDefinition:
        return ScheduleDefinition(
            name or fn.__name__,
            cron_schedule=cron_schedule,
            job_name=job_name,
            tags=tags,
            execution_timezone=execution_timezone,
            execution_fn=fn,
            description=description or fn.__doc__,
            job=job,
            default_status=default_status,
            target=target,
            metadata=metadata,
            required_resource_keys=required_resource_keys,
        )

    return wrap


def _cron_for(
    base: str,
    minute_of_hour: int | None,
    hour_of_day: int | None,
    day_of_week: int | None,
    day_of_month: int | None,
) -> str:
    fields = base.split()
    for index, value in (
        (0, minute_of_hour),
        (1, hour_of_day),
        (2, day_of_month),
        (4, day_of_week),
    ):
        if value is not None:
            fields[index] = str(value)
    return " ".join(fields)


class _PartitionedRequests:
    """At each scheduled time, a run of the newest partition that has ended by then."""

    def __init__(self, job: Any, partitions_def: TimeWindowPartitionsDefinition) -> None:
        self.job = job
        self.partitions_def = partitions_def

    def __call__(self, context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        when: dt.datetime = context.scheduled_execution_time
        keys = self.partitions_def.get_partition_keys(current_time=when)
        if not keys:
            return SkipReason(f"no partition of job '{self.job.name}' has ended by {when}")
        return partition_request(self.job, keys[-1], run_key=keys[-1])


def build_schedule_from_partitioned_job(
    job: Any,
    description: str | None = None,
    name: str | None = None,
    minute_of_hour: int | None = None,
    hour_of_day: int | None = None,
    day_of_week: int | None = None,
    day_of_month: int | None = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
    tags: Mapping[str, str] | None = None,
    cron_schedule: str | None = None,
    execution_timezone: str | None = None,
) -> ScheduleDefinition:
    """A schedule that runs a time-partitioned job for each partition as it ends."""
    partitions_def = getattr(job, "partitions_def", None)
    if not isinstance(partitions_def, TimeWindowPartitionsDefinition):
        raise DefinitionError(
            f"build_schedule_from_partitioned_job needs a job with time-window partitions; "
            f"job '{getattr(job, 'name', job)}' has {partitions_def!r}"
        )
    base = partitions_def.cron_schedule
    if not isinstance(base, str):
        raise DefinitionError(f"job '{job.name}': partitions with several cron strings")
    cron = cron_schedule or _cron_for(base, minute_of_hour, hour_of_day, day_of_week, day_of_month)
    return ScheduleDefinition(
        name or f"{job.name}_schedule",
        cron_schedule=cron,
        job=job,
        tags=tags,
        execution_timezone=execution_timezone or partitions_def.timezone,
        execution_fn=_PartitionedRequests(job, partitions_def),
        description=description,
        default_status=default_status,
    )
