"""Schedules: ``ScheduleDefinition``, ``@schedule`` and what one tick of a schedule asks for.

The cron string and time zone are checked when the schedule is defined, so
a bad one fails the code location's load with the schedule's name.
``ScheduleDefinition.next_fire_times`` gives the times the beat will fire
it; ``evaluate_tick`` gives the run requests of one scheduled time, tagged
as Dagster tags them.
"""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lookout._author.asset_selection import AssetSelection
from lookout._author.assets import (
    AssetsDefinition,
    UnresolvedAssetJobDefinition,
    define_asset_job,
)
from lookout._author.config import run_config_dict
from lookout._author.cron import CronSpec, next_fire_times, parse_cron, zone
from lookout._author.ops import JobDefinition
from lookout._author.partition_requests import partition_request
from lookout._author.requests import RunRequest, SensorResult, SkipReason
from lookout._author.resources import ResourceScope
from lookout._base.errors import DefinitionError, SensorEvaluationError

SCHEDULE_NAME_TAG = "dagster/schedule_name"
JobLike = JobDefinition | UnresolvedAssetJobDefinition
_CONTEXT_NAMES = frozenset({"context", "_context", "ctx", "_"})


class DefaultScheduleStatus(enum.Enum):
    """The status a schedule has until an operator starts or stops it."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


class ScheduleEvaluationContext:
    """What a schedule's function sees: the time it was scheduled for, resources, instance."""

    def __init__(
        self,
        instance: Any = None,
        scheduled_execution_time: dt.datetime | None = None,
        resources: Mapping[str, Any] | None = None,
        schedule_name: str | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.instance = instance
        self._scheduled = scheduled_execution_time
        self._scope = ResourceScope(resources or {}, instance=instance)
        self.resources = self._scope.namespace()
        self.schedule_name = schedule_name
        self.log = log or logging.getLogger(f"lookout.schedule.{schedule_name or 'unnamed'}")

    @property
    def scheduled_execution_time(self) -> dt.datetime:
        if self._scheduled is None:
            raise DefinitionError(
                "this context has no scheduled_execution_time; pass one to build_schedule_context"
            )
        return self._scheduled

    def resource(self, key: str) -> Any:
        return self._scope.get(key)

    def __enter__(self) -> ScheduleEvaluationContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self._scope.close()


def build_schedule_context(
    instance: Any = None,
    scheduled_execution_time: dt.datetime | None = None,
    resources: Mapping[str, Any] | None = None,
    repository_def: Any = None,
) -> ScheduleEvaluationContext:
    """A context to call a schedule's function, or ``evaluate_tick``, in a test."""
    del repository_def  # accepted for Dagster compatibility
    return ScheduleEvaluationContext(instance, scheduled_execution_time, resources)


@dataclass(frozen=True)
class ScheduleExecutionData:
    """What one tick of a schedule asked for."""

    run_requests: list[RunRequest] = field(default_factory=list)
    skip_message: str | None = None


class ScheduleDefinition:
    """A job launched on a cron schedule, in a time zone."""

    def __init__(
        self,
        name: str | None = None,
        *,
        cron_schedule: CronSpec,
        job_name: str | None = None,
        run_config: Any = None,
        tags: Mapping[str, str] | None = None,
        execution_timezone: str | None = None,
        execution_fn: Callable[..., Any] | None = None,
        description: str | None = None,
        job: Any = None,
        default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
        target: Any = None,
        should_execute: Callable[..., bool] | None = None,
        run_config_fn: Callable[..., Any] | None = None,
        tags_fn: Callable[..., Any] | None = None,
        metadata: Any = None,
        required_resource_keys: Any = None,
    ) -> None:
        del metadata, required_resource_keys  # accepted for Dagster compatibility
        target_job = job if job is not None else target
        self.job_name = job_name or getattr(target_job, "name", None)
        if target_job is None and job_name is None:
            raise DefinitionError(
                f"schedule '{name or 'unnamed'}': give it a target, job or job_name"
            )
        self.name: str = name or f"{self.job_name}_schedule"
        self.job = schedule_job(self.name, target_job)
        self.job_name = job_name or getattr(self.job, "name", None)
        what = f"schedule '{self.name}'"
        self.cron_schedule = parse_cron(cron_schedule, what)
        self.execution_timezone = execution_timezone
        zone(execution_timezone or "UTC", what)
        if not isinstance(default_status, DefaultScheduleStatus):
            raise DefinitionError(f"{what}: default_status must be a DefaultScheduleStatus")
        self.default_status = default_status
        self.description = description
        self.tags = dict(tags or {})
        self.run_config = run_config_dict(run_config)
        self._fn = execution_fn
        self._should_execute = should_execute
        self._run_config_fn = run_config_fn
        self._tags_fn = tags_fn

    @property
    def timezone(self) -> str:
        return self.execution_timezone or "UTC"

    def next_fire_times(self, after: float | dt.datetime, count: int = 1) -> list[dt.datetime]:
        """The next ``count`` scheduled times after ``after``, in the schedule's time zone."""
        return next_fire_times(self.cron_schedule, after, count, self.timezone)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fn is None:
            raise DefinitionError(f"schedule '{self.name}' has no function to call")
        if args and isinstance(args[0], ScheduleEvaluationContext) and not kwargs:
            return self._call(args[0])
        return self._fn(*args, **kwargs)

    def _call(self, context: ScheduleEvaluationContext) -> Any:
        assert self._fn is not None
        params = list(inspect.signature(self._fn).parameters)
        takes_context = bool(params) and params[0] in _CONTEXT_NAMES
        names = params[1:] if takes_context else params
        resources = {n: context.resource(n) for n in names}
        return self._fn(context, **resources) if takes_context else self._fn(**resources)

    def _default_requests(self, context: ScheduleEvaluationContext) -> list[Any]:
        if self._should_execute is not None and not self._should_execute(context):
            return [SkipReason(f"should_execute returned False for schedule '{self.name}'")]
        config = self._run_config_fn(context) if self._run_config_fn else self.run_config
        tags = {**self.tags, **(self._tags_fn(context) if self._tags_fn else {})}
        return [RunRequest(run_key=None, run_config=run_config_dict(config), tags=tags)]

    def evaluate_tick(self, context: ScheduleEvaluationContext) -> ScheduleExecutionData:
        """What this schedule asks for at ``context.scheduled_execution_time``."""
        try:
            output = self._call(context) if self._fn else self._default_requests(context)
        except DefinitionError:
            raise
        except Exception as exc:
            raise SensorEvaluationError(
                f"schedule '{self.name}' raised {type(exc).__name__}: {exc}"
            ) from exc
        requests, skip = _collect(self.name, output)
        tagged = [
            replace(r, tags={**r.tags, SCHEDULE_NAME_TAG: self.name})
            for r in (self._with_partition(r, context) for r in requests)
        ]
        return ScheduleExecutionData(tagged, skip)

    def _with_partition(
        self, request: RunRequest, context: ScheduleEvaluationContext
    ) -> RunRequest:
        """A partition's tags and run config, as Dagster resolves them on a tick."""
        if request.partition_key is None or getattr(self.job, "partitions_def", None) is None:
            return request
        resolved = partition_request(
            self.job,
            request.partition_key,
            request.run_key,
            request.tags,
            request.run_config,
            dynamic_partitions_store=context.instance,
        )
        return replace(resolved, job_name=request.job_name)


def schedule_job(name: str, target: Any) -> JobLike | None:
    """The job a schedule launches: the one given, or one over the assets it targets."""
    if target is None or isinstance(target, JobLike):
        return target
    selection = [target] if isinstance(target, AssetsDefinition) else target
    if not isinstance(selection, AssetSelection | str | Sequence):
        raise DefinitionError(f"schedule '{name}': cannot target {target!r}")
    return define_asset_job(f"__anonymous_asset_job_{name}", selection)


def _collect(name: str, output: Any) -> tuple[list[RunRequest], str | None]:
    if output is None:
        return [], None
    if isinstance(output, Mapping):  # a run config: one run with it
        return [RunRequest(run_key=None, run_config=dict(output))], None
    if isinstance(output, SkipReason):
        return [], output.skip_message
    if isinstance(output, RunRequest):
        return [output], None
    if isinstance(output, SensorResult):
        skip = output.skip_reason
        message = skip.skip_message if isinstance(skip, SkipReason) else None
        return list(output.run_requests or []), message
    items = list(output)
    if not all(isinstance(i, RunRequest) for i in items):
        raise SensorEvaluationError(
            f"schedule '{name}' gave {items!r}; expected RunRequests, a SkipReason or a run config"
        )
    return items, None
