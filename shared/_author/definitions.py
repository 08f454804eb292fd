"""``Definitions``: the assets, jobs and sensors of one code location."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from lookout._author.assets import AssetsDefinition, UnresolvedAssetJobDefinition
from lookout._author.execute import bind_resources
from lookout._author.ops import JobDefinition
from lookout._author.schedules import ScheduleDefinition
from lookout._author.sensors import SensorDefinition
from lookout._base.errors import DefinitionError


def definitions(fn: Callable[[], Definitions]) -> Callable[[], Definitions]:
    """Mark a function that builds a code location's ``Definitions`` (``@dg.definitions``)."""
    return fn


def _unique(kind: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DefinitionError(f"two {kind}s are named '{name}' in one Definitions")
        seen.add(name)


class Definitions:
    """Everything one code location defines; passed explicitly to every process.

    Jobs that sensors target are added for you, as Dagster does.
    """

    def __init__(
        self,
        assets: Iterable[AssetsDefinition[Any, Any]] | None = None,
        jobs: Iterable[JobDefinition | UnresolvedAssetJobDefinition] | None = None,
        sensors: Iterable[SensorDefinition[Any, Any]] | None = None,
        schedules: Iterable[ScheduleDefinition] | None = None,
        resources: Mapping[str, Any] | None = None,
    ) -> None:
        self.assets: tuple[AssetsDefinition[Any, Any], ...] = tuple(assets or ())
        sensor_list = tuple(sensors or ())
        _unique("sensor", (s.name for s in sensor_list))
        _unique("asset", (a.key.to_user_string() for a in self.assets))
        declared = list(jobs or ())
        _unique("job", (j.name for j in declared))
        # A sensor's target may be the very object in ``jobs``: add it only once.
        by_name: dict[str, JobDefinition | UnresolvedAssetJobDefinition] = {
            j.name: j for j in declared
        }
        self.schedules = tuple(schedules or ())
        _unique("schedule", (s.name for s in self.schedules))
        for sched in self.schedules:
            if sched.job is not None:
                by_name.setdefault(sched.job.name, sched.job)
        for s in sensor_list:
            for j in s.jobs:
                known = by_name.setdefault(j.name, j)
                if known is not j and known != j:
                    raise DefinitionError(
                        f"sensor '{s.name}' targets a job named '{j.name}' that differs from "
                        "the job of that name in this Definitions"
                    )
        self.resources = dict(resources or {})
        self._jobs = {name: self._resolve(j) for name, j in by_name.items()}
        self._sensors = {s.name: s for s in sensor_list}
        for s in sensor_list:
            unknown = [n for n in s.job_names if n not in self._jobs]
            if unknown:
                raise DefinitionError(f"sensor '{s.name}' targets unknown jobs {unknown}")
            absent = [n for n in s.resource_keys if n not in self.resources]
            if absent:
                raise DefinitionError(f"sensor '{s.name}' needs resources {absent} not provided")

    def _resolve(self, j: JobDefinition | UnresolvedAssetJobDefinition) -> JobDefinition:
        job = j.resolve(self.assets) if isinstance(j, UnresolvedAssetJobDefinition) else j
        if not self.resources:
            return job
        return replace(job, steps=bind_resources(job.steps, self.resources))

    def get_schedule(self, name: str) -> ScheduleDefinition:
        for sched in self.schedules:
            if sched.name == name:
                return sched
        raise DefinitionError(f"no schedule named '{name}'")

    @property
    def sensors(self) -> tuple[SensorDefinition[Any, Any], ...]:
        return tuple(self._sensors.values())

    @property
    def jobs(self) -> tuple[JobDefinition, ...]:
        return tuple(self._jobs.values())

    def get_sensor(self, name: str) -> SensorDefinition[Any, Any]:
        try:
            return self._sensors[name]
        except KeyError:
            raise DefinitionError(
                f"no sensor named '{name}' (known: {', '.join(sorted(self._sensors)) or 'none'})"
            ) from None

    def get_job(self, name: str) -> JobDefinition:
        try:
            return self._jobs[name]
        except KeyError:
            raise DefinitionError(f"no job named '{name}'") from None

    def has_job(self, name: str) -> bool:
        return name in self._jobs
