"""Sensor definitions and the ``@sensor`` decorator."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar, cast

from lookout._author.asset_key import AssetKey
from lookout._author.asset_selection import AssetSelection
from lookout._author.asset_sensor_eval import evaluate_on_instance
from lookout._author.assets import (
    IMPLICIT_JOB_PREFIX,
    UnresolvedAssetJobDefinition,
    define_asset_job,
)
from lookout._author.context import SensorEvaluationContext
from lookout._author.evaluate import SensorKind, call_sensor
from lookout._author.execution_data import SensorExecutionData, tick_data
from lookout._author.ops import JobDefinition
from lookout._author.sensor_resources import call_with_resources, resource_names
from lookout._author.signature import positional_params, takes_context
from lookout._base.errors import DefinitionError
from lookout._base.wire import DefaultSensorStatus

# SensorKind lives in evaluate.py so that evaluation can name it; it is still
# imported from here by the runtime and the tools.
__all__ = [
    "DEFAULT_INTERVAL_SECONDS",
    "AssetSensorDefinition",
    "Common",
    "JobLike",
    "SensorDefinition",
    "SensorExecutionData",
    "SensorKind",
    "Targets",
    "asset_sensor_options",
    "collect_targets",
    "make_sensor",
    "sensor",
]

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_INTERVAL_SECONDS = 30
JobLike = JobDefinition | UnresolvedAssetJobDefinition


def _function_and_name(
    fn: Callable[P, R] | str | None, evaluation_fn: Callable[P, R] | None, name: str | None
) -> tuple[Callable[P, R], str]:
    """The sensor's function and name, given either way (see ``SensorDefinition``)."""
    if isinstance(fn, str):
        name, fn = name or fn, None
    func = fn if fn is not None else evaluation_fn
    if func is None:
        raise DefinitionError(f"sensor '{name or 'unnamed'}': give it an evaluation_fn")
    return func, name or func.__name__


def _interval(sensor_name: str, given: int | float | None) -> int | float:
    interval = DEFAULT_INTERVAL_SECONDS if given is None else given
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
        raise DefinitionError(
            f"sensor '{sensor_name}': minimum_interval_seconds must be a positive number, "
            f"got {given!r}"
        )
    return interval


# A lookout extension, absent in Dagster: how many seconds later than its
# interval a sensor's tick may come, to spread the ticks of many sensors
# (lookout._process.jitter; LOOKOUT_SENSOR_JITTER sets it for all).
JITTER_TAG = "lookout/jitter_seconds"


def _jitter(sensor_name: str, tags: Mapping[str, str]) -> float | None:
    raw = tags.get(JITTER_TAG)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise DefinitionError(
            f"sensor '{sensor_name}': tag {JITTER_TAG} must be a number of seconds (0 or "
            f"more), got {raw!r}"
        )
    return value


def _flag(sensor_name: str, given: Any) -> bool:
    if not isinstance(given, bool):
        raise DefinitionError(
            f"sensor '{sensor_name}': rerun_failed_run_keys must be a bool, got {given!r}"
        )
    return given


def _ttl(sensor_name: str, given: Any) -> float | None:
    if given is None:
        return None
    if isinstance(given, bool) or not isinstance(given, int | float) or given <= 0:
        raise DefinitionError(
            f"sensor '{sensor_name}': run_key_ttl_seconds must be a positive number or None, "
            f"got {given!r}"
        )
    return float(given)


class SensorDefinition(Generic[P, R]):
    """A sensor: a function polled at an interval that asks for runs or says why not.

    Calling the definition calls the user's function unchanged, so a sensor can
    be tested as a plain function.
    """

    def __init__(
        self,
        fn: Callable[P, R] | str | None = None,
        *,
        evaluation_fn: Callable[P, R] | None = None,
        name: str | None = None,
        minimum_interval_seconds: int | float | None = None,
        description: str | None = None,
        job: JobLike | None = None,
        jobs: Sequence[JobLike] | None = None,
        job_name: str | None = None,
        job_names: Sequence[str] = (),
        target: Any = None,
        asset_selection: Any = None,
        default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
        tags: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        required_resource_keys: Iterable[str] | None = None,
        owners: Sequence[str] | None = None,
        kind: SensorKind = SensorKind.STANDARD,
        options: Mapping[str, Any] | None = None,
        rerun_failed_run_keys: bool = False,
        run_key_ttl_seconds: int | float | None = None,
    ) -> None:
        # Dagster's constructor: SensorDefinition(name, evaluation_fn=..., job=...);
        # the decorators here pass the function first.
        fn, self.name = _function_and_name(fn, evaluation_fn, name)
        self.fn = fn
        self.minimum_interval_seconds = _interval(self.name, minimum_interval_seconds)
        if not isinstance(default_status, DefaultSensorStatus):
            raise DefinitionError(
                f"sensor '{self.name}': default_status must be a DefaultSensorStatus, "
                f"got {default_status!r}"
            )
        self.description = description or fn.__doc__
        found, named = collect_targets(
            self.name, Targets(job, jobs, target, asset_selection, job_name)
        )
        self.jobs: tuple[JobLike, ...] = tuple(found)
        self.job_names: tuple[str, ...] = tuple(
            dict.fromkeys([*job_names, *named, *(j.name for j in self.jobs)])
        )
        self.default_status = default_status
        self.tags = dict(tags or {})
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.required_resource_keys: set[str] = set(required_resource_keys or ())
        self.owners: list[str] | None = list(owners) if owners is not None else None
        self.kind = kind
        self.options: Mapping[str, Any] = dict(options or {})
        # Lookout extensions, absent in Dagster (README: run keys that can
        # run again): a run key whose run failed runs again when requested
        # again; keys are forgotten ``run_key_ttl_seconds`` after they were taken.
        self.jitter_seconds = _jitter(self.name, self.tags)
        self.rerun_failed_run_keys = _flag(self.name, rerun_failed_run_keys)
        self.run_key_ttl_seconds = _ttl(self.name, run_key_ttl_seconds)
        self.takes_context = takes_context(fn)
        # The resources the function takes by parameter name (a standard sensor's only).
        self.resource_keys = (
            resource_names(fn, self.takes_context) if kind is SensorKind.STANDARD else ()
        )

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        context = args[0] if self.takes_context and args else None
        result: R = call_with_resources(
            self.fn, self.name, self.takes_context, self.resource_keys, context, args, kwargs
        )
        return result

    def __repr__(self) -> str:
        return f"<SensorDefinition {self.name!r} jobs={list(self.job_names)}>"

    @property
    def job_name(self) -> str:
        """The one job this sensor launches; an error when it has none or several, as in Dagster."""
        if not self.job_names:
            raise DefinitionError(f"sensor '{self.name}': no job was provided to it")
        if len(self.job_names) > 1:
            raise DefinitionError(
                f"sensor '{self.name}' targets several jobs {list(self.job_names)}: "
                "job_name is not available"
            )
        return self.job_names[0]

    @property
    def job(self) -> JobLike:
        """The one job object this sensor launches, as Dagster's ``SensorDefinition.job``."""
        if len(self.job_names) > 1:
            raise DefinitionError(
                f"sensor '{self.name}' targets several jobs {list(self.job_names)}: "
                "job is not available"
            )
        if not self.jobs:
            given = "a job by name only" if self.job_names else "no job"
            raise DefinitionError(f"sensor '{self.name}' has {given}: job is not available")
        return self.jobs[0]

    def evaluate_tick(self, context: SensorEvaluationContext) -> SensorExecutionData:
        """Evaluate the sensor once with ``context``, as Dagster's ``evaluate_tick`` does.

        The run requests come back tagged with the sensor's name, with the
        skip message and the cursor after the call (``lookout._author.execution_data``).
        """
        return tick_data(self, context, self.tick_output(context))

    def tick_output(self, context: SensorEvaluationContext) -> Any:
        """What the sensor gives back when one tick evaluates it with ``context``."""
        if self.kind is not SensorKind.STANDARD:
            raise DefinitionError(
                f"sensor '{self.name}': evaluate_tick is not available for a "
                f"{self.kind.value} sensor; call the sensor with its context instead"
            )
        return call_sensor(self, context)


@dataclass(frozen=True)
class Targets:
    """What a sensor may launch, in any of Dagster's several ways of saying it."""

    job: JobLike | None = None
    jobs: Sequence[JobLike] | None = None
    target: Any = None
    asset_selection: Any = None
    job_name: str | None = None


@dataclass(frozen=True)
class Common:
    """What every sensor decorator takes besides its targets."""

    name: str | None = None
    minimum_interval_seconds: int | float | None = None
    description: str | None = None
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED
    tags: Mapping[str, str] | None = None


def make_sensor(
    fn: Callable[P, R],
    common: Common,
    targets: Targets,
    factory: Callable[..., SensorDefinition[P, R]] = SensorDefinition,
    **extra: Any,
) -> SensorDefinition[P, R]:
    """Build the definition every sensor decorator builds: name, interval, targets, status."""
    sensor_name = common.name or fn.__name__
    found, names = collect_targets(sensor_name, targets)
    return factory(
        fn,
        name=sensor_name,
        minimum_interval_seconds=common.minimum_interval_seconds,
        description=common.description,
        jobs=found,
        job_names=names,
        default_status=common.default_status,
        tags=common.tags,
        **extra,
    )


def collect_targets(sensor_name: str, targets: Targets) -> tuple[list[JobLike], list[str]]:
    """Gather the jobs a sensor may launch, and the job names it names without a job."""
    found: list[JobLike] = [
        *([targets.job] if targets.job is not None else []),
        *(targets.jobs or []),
    ]
    assets_target = targets.asset_selection
    if isinstance(targets.target, JobLike):
        found.append(targets.target)
    elif targets.target is not None:
        assets_target = targets.target
    if assets_target is not None:
        found.append(_implicit_asset_job(sensor_name, assets_target))
    for j in found:
        if not isinstance(j, JobLike):
            raise DefinitionError(f"sensor '{sensor_name}': {j!r} is not a job")
    return found, [targets.job_name] if targets.job_name else []


def _implicit_asset_job(sensor_name: str, selection: Any) -> UnresolvedAssetJobDefinition:
    # An asset or an AssetSpec stands for its key.
    single = isinstance(getattr(selection, "key", None), AssetKey)
    if not (single or isinstance(selection, AssetSelection | AssetKey | str | Sequence)):
        raise DefinitionError(f"sensor '{sensor_name}': cannot target {selection!r}")
    try:
        return define_asset_job(f"{IMPLICIT_JOB_PREFIX}{sensor_name}", selection)
    except DefinitionError as exc:
        raise DefinitionError(f"sensor '{sensor_name}': {exc}") from None


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
    owners: Sequence[str] | None = None,
    rerun_failed_run_keys: bool = False,
    run_key_ttl_seconds: int | float | None = None,
) -> Callable[[Callable[P, R]], SensorDefinition[P, R]]:
    """Define a sensor, as Dagster's ``@sensor`` does.

    ``asset_key=`` makes it an asset sensor, as one example in Dagster's sensor
    guide writes it.  ``rerun_failed_run_keys`` and ``run_key_ttl_seconds``
    are lookout extensions (README: run keys that can run again).
    """
    extra = {
        "metadata": metadata,
        "required_resource_keys": required_resource_keys,
        "owners": owners,
        "rerun_failed_run_keys": rerun_failed_run_keys,
        "run_key_ttl_seconds": run_key_ttl_seconds,
    }

    def wrap(fn: Callable[P, R]) -> SensorDefinition[P, R]:
        common = Common(name, minimum_interval_seconds, description, default_status, tags)
        targets = Targets(job, jobs, target, asset_selection, job_name)
        if asset_key is None:
            return make_sensor(fn, common, targets, **extra)
        return make_sensor(fn, common, targets, AssetSensorDefinition, asset_key=asset_key, **extra)

    return wrap


def asset_sensor_options(asset_key: Any) -> dict[str, Any]:
    return {"asset_key": AssetKey.from_coercible(asset_key).to_user_string()}


def _by_position(fn: Callable[..., R]) -> Callable[..., R]:
    """Call ``fn`` with as many of (context, asset_event) as it takes positionally."""
    count = len(positional_params(fn))

    def call(context: Any, asset_event: Any) -> R:
        return fn(*(context, asset_event)[:count])

    return call


class AssetSensorDefinition(SensorDefinition[P, R]):
    """An asset sensor: called once per materialization of ``asset_key``.

    As in Dagster, the function's first parameter gets the context and its
    second the event, whatever their names, and a function may take fewer
    (``def my_sensor(): return RunRequest()``).  Calling the definition still
    calls the user's function unchanged.
    """

    def __init__(self, fn: Callable[P, R], *, asset_key: Any, **kwargs: Any) -> None:
        super().__init__(
            fn, kind=SensorKind.ASSET, options=asset_sensor_options(asset_key), **kwargs
        )
        self.asset_key = AssetKey.from_coercible(asset_key)
        self.raw_fn = fn
        self.fn = _by_position(fn)
        self.takes_context = True  # ``fn`` now always takes (context, asset_event)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """The user's function; with a context alone, Dagster's evaluation on its instance.

        ``my_asset_sensor(context)`` reads the newest materialization after the
        cursor from ``context.instance`` and gives a generator of what the
        function gave, or Dagster's SkipReason (``asset_sensor_eval``).
        """
        if len(args) == 1 and not kwargs and isinstance(args[0], SensorEvaluationContext):
            evaluation = evaluate_on_instance(self.name, self.asset_key, self.fn, args[0])
            return cast(R, evaluation)
        return self.raw_fn(*args, **kwargs)

    def tick_output(self, context: SensorEvaluationContext) -> Any:
        """The newest materialization after the cursor, handed to the function (see __call__)."""
        return evaluate_on_instance(self.name, self.asset_key, self.fn, context)
