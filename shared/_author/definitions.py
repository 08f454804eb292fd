"""``Definitions``: the assets, jobs and sensors of one code location."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from lookout._author.asset_key import AssetKey
from lookout._author.asset_selection import coerce_key
from lookout._author.asset_spec import AssetSpec
from lookout._author.assets import AssetsDefinition, UnresolvedAssetJobDefinition, define_asset_job
from lookout._author.execute import bind_resources
from lookout._author.ops import JobDefinition
from lookout._author.schedules import ScheduleDefinition
from lookout._author.sensors import SensorDefinition
from lookout._base.errors import DefinitionError

T = TypeVar("T")


def definitions(fn: Callable[[], Definitions]) -> Callable[[], Definitions]:
    """Mark a function that builds a code location's ``Definitions`` (``@dg.definitions``)."""
    return fn


def _distinct(items: Iterable[T] | None) -> list[T]:
    """The items in order, each object once: Dagster accepts the very same definition twice."""
    return list({id(item): item for item in items or ()}.values())


def _unique(kind: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DefinitionError(f"two {kind}s are named '{name}' in one Definitions")
        seen.add(name)


def _no_clash(sensors: Iterable[str], schedules: Iterable[str]) -> None:
    # They share one state in Redis, and Dagster refuses the clash too.
    clash = sorted(set(sensors) & set(schedules))
    if clash:
        raise DefinitionError(f"a sensor and a schedule are both named '{clash[0]}'")


class Definitions:
    """Everything one code location defines; passed explicitly to every process.

    Jobs that sensors target are added for you, as Dagster does.
    """

    def __init__(
        self,
        assets: Iterable[AssetsDefinition[Any, Any] | AssetSpec] | None = None,
        jobs: Iterable[JobDefinition | UnresolvedAssetJobDefinition] | None = None,
        sensors: Iterable[SensorDefinition[Any, Any]] | None = None,
        schedules: Iterable[ScheduleDefinition] | None = None,
        resources: Mapping[str, Any] | None = None,
    ) -> None:
        # An AssetsDefinition(specs=[...]) stands for its specs.
        given = tuple(
            item
            for a in _distinct(assets)
            for item in (a.specs if isinstance(a, AssetsDefinition) and a.specs else (a,))
        )
        self.assets: tuple[AssetsDefinition[Any, Any], ...] = tuple(
            a for a in given if isinstance(a, AssetsDefinition)
        )
        # External assets: known by key, computed by no job.
        self.asset_specs: tuple[AssetSpec, ...] = tuple(
            a for a in given if isinstance(a, AssetSpec)
        )
        strays = [a for a in given if not isinstance(a, AssetsDefinition | AssetSpec)]
        if strays:
            raise DefinitionError(
                f"Definitions(assets=...) takes assets and AssetSpecs, got {strays[0]!r:.80}"
            )
        sensor_list = tuple(_distinct(sensors))
        _unique("sensor", (s.name for s in sensor_list))
        _unique("asset", (a.key.to_user_string() for a in given))
        declared = _distinct(jobs)
        _unique("job", (j.name for j in declared))
        # The jobs as given (``jobs=``), before resolution: what ``merge`` passes on.
        self.declared_jobs: tuple[JobDefinition | UnresolvedAssetJobDefinition, ...] = tuple(
            declared
        )
        # A sensor's target may be the very object in ``jobs``: add it only once.
        by_name: dict[str, JobDefinition | UnresolvedAssetJobDefinition] = {
            j.name: j for j in declared
        }
        self.schedules = tuple(_distinct(schedules))
        _unique("schedule", (s.name for s in self.schedules))
        _no_clash((s.name for s in sensor_list), (s.name for s in self.schedules))
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

    # Dagster's names for the lookups above, and for assets and schedules.
    def get_sensor_def(self, name: str) -> SensorDefinition[Any, Any]:
        return self.get_sensor(name)

    def get_job_def(self, name: str) -> JobDefinition:
        return self.get_job(name)

    @property
    def asset_keys(self) -> list[AssetKey]:
        """Every asset this location knows: computed ones, then external ones."""
        return [a.key for a in self.assets] + [s.key for s in self.asset_specs]

    def get_assets_def(self, key: Any) -> AssetsDefinition[Any, Any] | AssetSpec:
        """The asset of ``key`` (a key, ``"a/b"`` or parts): its definition or its spec."""
        wanted = coerce_key(key)
        nodes: list[AssetsDefinition[Any, Any] | AssetSpec] = [*self.assets, *self.asset_specs]
        for node in nodes:
            if node.key == wanted:
                return node
        raise DefinitionError(
            f"no asset '{wanted.to_user_string()}' in this Definitions (known: "
            f"{', '.join(sorted(k.to_user_string() for k in self.asset_keys)) or 'none'})"
        )

    resolve_assets_def = get_assets_def

    def get_schedule_def(self, name: str) -> Any:
        """The schedule named ``name`` among ``schedules=``."""
        for schedule in self.schedules:
            if getattr(schedule, "name", None) == name:
                return schedule
        raise DefinitionError(f"no schedule named '{name}'")

    def resolve_implicit_global_asset_job_def(self) -> JobDefinition:
        """A job over every computed asset (Dagster's ``__ASSET_JOB``)."""
        return define_asset_job("__ASSET_JOB").resolve(self.assets)

    # Dagster 1.13's ``resolve_*`` names for the same lookups.
    def resolve_sensor_def(self, name: str) -> SensorDefinition[Any, Any]:
        return self.get_sensor(name)

    def resolve_job_def(self, name: str) -> JobDefinition:
        return self.get_job(name)

    def resolve_schedule_def(self, name: str) -> Any:
        return self.get_schedule_def(name)

    def resolve_all_job_defs(self) -> list[JobDefinition]:
        """Every job, Dagster's implicit ``__ASSET_JOB`` first when there are computed assets."""
        implicit = [self.resolve_implicit_global_asset_job_def()] if self.assets else []
        return [*implicit, *self.jobs]

    @staticmethod
    def validate_loadable(defs: Definitions) -> None:
        """Raise if ``defs`` would not load, as Dagster's ``Definitions.validate_loadable``.

        Sensors, jobs and schedules are checked when a ``Definitions`` is built;
        what is left is the job over every asset, resolved here.
        """
        if not isinstance(defs, Definitions):
            raise DefinitionError(f"validate_loadable takes a Definitions, got {defs!r:.80}")
        defs.resolve_all_job_defs()

    @staticmethod
    def merge(*defs: Definitions) -> Definitions:
        """One ``Definitions`` with everything of ``defs``, as Dagster's ``Definitions.merge``.

        Two of them may not give different resources under one key.
        """
        resources: dict[str, Any] = {}
        owner: dict[str, int] = {}
        for index, d in enumerate(defs):
            for key, value in d.resources.items():
                known = resources.get(key, value)
                if known is not value and known != value:
                    raise DefinitionError(
                        f"Definitions objects {owner[key]} and {index} have different resources "
                        f"with same key '{key}'"
                    )
                resources[key] = value
                owner[key] = index
        assets: list[AssetsDefinition[Any, Any] | AssetSpec] = []
        for d in defs:
            assets += [*d.assets, *d.asset_specs]
        return Definitions(
            assets=assets,
            jobs=[j for d in defs for j in d.declared_jobs],
            sensors=[s for d in defs for s in d.sensors],
            schedules=[s for d in defs for s in d.schedules],
            resources=resources,
        )

    # Dagster's RepositoryDefinition lookups: ``@repository`` gives a Definitions,
    # and Dagster's tests ask a repository these.
    def get_repository_def(self) -> Definitions:
        """Itself: a lookout ``Definitions`` answers the lookups of Dagster's repository."""
        return self

    def has_sensor_def(self, name: str) -> bool:
        return name in self._sensors

    def has_schedule_def(self, name: str) -> bool:
        return any(s.name == name for s in self.schedules)

    @property
    def sensor_defs(self) -> list[SensorDefinition[Any, Any]]:
        return list(self.sensors)

    @property
    def schedule_defs(self) -> list[ScheduleDefinition]:
        return list(self.schedules)

    @property
    def job_names(self) -> list[str]:
        """The jobs' names, then Dagster's ``__ASSET_JOB`` when there are computed assets."""
        return [*self._jobs, *(["__ASSET_JOB"] if self.assets else [])]

    def get_all_jobs(self) -> list[JobDefinition]:
        return self.resolve_all_job_defs()
