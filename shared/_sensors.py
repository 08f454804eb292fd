"""Sensor definitions and the ``@sensor`` decorator."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, ParamSpec, TypeVar

from shared._assets import AssetSelection, UnresolvedAssetJobDefinition, define_asset_job
from shared._errors import DefinitionError
from shared._ops import JobDefinition
from shared._requests import DefaultSensorStatus
from shared._signature import takes_context

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_INTERVAL_SECONDS = 30
JobLike = JobDefinition | UnresolvedAssetJobDefinition


class SensorKind(enum.Enum):
    """How a sensor is fed: polled as it is, or handed events from the event stream."""

    STANDARD = "standard"
    ASSET = "asset"
    RUN_STATUS = "run_status"


class SensorDefinition(Generic[P, R]):
    """A sensor: a function polled at an interval that asks for runs or says why not.

    Calling the definition calls the user's function unchanged, so a sensor can
    be tested as a plain function.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        minimum_interval_seconds: int | float | None = None,
        description: str | None = None,
        jobs: Sequence[JobLike] = (),
        job_names: Sequence[str] = (),
        default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
        tags: Mapping[str, str] | None = None,
        kind: SensorKind = SensorKind.STANDARD,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        interval = (
            DEFAULT_INTERVAL_SECONDS
            if minimum_interval_seconds is None
            else minimum_interval_seconds
        )
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise DefinitionError(
                f"sensor '{self.name}': minimum_interval_seconds must be a positive number, "
                f"got {minimum_interval_seconds!r}"
            )
        if not isinstance(default_status, DefaultSensorStatus):
            raise DefinitionError(
                f"sensor '{self.name}': default_status must be a DefaultSensorStatus, "
                f"got {default_status!r}"
            )
        self.minimum_interval_seconds = interval
        self.description = description or fn.__doc__
        self.jobs: tuple[JobLike, ...] = tuple(jobs)
        self.job_names: tuple[str, ...] = tuple(
            dict.fromkeys([*job_names, *(j.name for j in self.jobs)])
        )
        self.default_status = default_status
        self.tags = dict(tags or {})
        self.kind = kind
        self.options: Mapping[str, Any] = dict(options or {})
        self.takes_context = takes_context(fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<SensorDefinition {self.name!r} jobs={list(self.job_names)}>"


def collect_targets(
    sensor_name: str,
    job: JobLike | None,
    jobs: Sequence[JobLike] | None,
    target: Any,
    asset_selection: Any,
    job_name: str | None,
) -> tuple[list[JobLike], list[str]]:
    """Gather what a sensor may launch from Dagster's several ways of saying it."""
    found: list[JobLike] = [*([job] if job is not None else []), *(jobs or [])]
    assets_target = asset_selection
    if isinstance(target, JobLike):
        found.append(target)
    elif target is not None:
        assets_target = target
    if assets_target is not None:
        found.append(_implicit_asset_job(sensor_name, assets_target))
    for j in found:
        if not isinstance(j, JobLike):
            raise DefinitionError(f"sensor '{sensor_name}': {j!r} is not a job")
    return found, [job_name] if job_name else []


def _implicit_asset_job(sensor_name: str, selection: Any) -> UnresolvedAssetJobDefinition:
    if not isinstance(selection, AssetSelection | str | Sequence):
        raise DefinitionError(f"sensor '{sensor_name}': cannot target {selection!r}")
    return define_asset_job(f"__asset_job_{sensor_name}", selection)


def sensor(
    job_name: str | None = None,
    name: str | None = None,
    minimum_interval_seconds: int | float | None = None,
    description: str | None = None,
    job: JobLike | None = None,
    jobs: Sequence[JobLike] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    asset_selection: Any = None,
    tags: Mapping[str, str] | None = None,
    target: Any = None,
    asset_key: Any = None,
    required_resource_keys: Any = None,
    metadata: Any = None,
) -> Callable[[Callable[P, R]], SensorDefinition[P, R]]:
    """Define a sensor, as Dagster's ``@sensor`` does.

    ``asset_key=`` makes it an asset sensor, as one example in Dagster's sensor
    guide writes it.
    """
    del required_resource_keys, metadata  # accepted for Dagster compatibility

    def wrap(fn: Callable[P, R]) -> SensorDefinition[P, R]:
        sensor_name = name or fn.__name__
        found, names = collect_targets(sensor_name, job, jobs, target, asset_selection, job_name)
        if asset_key is not None:
            from shared._event_sensors import asset_sensor_options

            return SensorDefinition(
                fn,
                name=sensor_name,
                minimum_interval_seconds=minimum_interval_seconds,
                description=description,
                jobs=found,
                job_names=names,
                default_status=default_status,
                tags=tags,
                kind=SensorKind.ASSET,
                options=asset_sensor_options(asset_key),
            )
        return SensorDefinition(
            fn,
            name=sensor_name,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description,
            jobs=found,
            job_names=names,
            default_status=default_status,
            tags=tags,
        )

    return wrap
