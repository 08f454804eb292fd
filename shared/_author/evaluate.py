"""Turn whatever a sensor function gives back into one normalized outcome.

Pure: no Redis, no clock.  Every misuse is a ``SensorEvaluationError`` that
names the sensor, so the tick that hits it records a FAILURE with a clear
message.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from lookout._author.asset_event_check import checked_asset_events
from lookout._author.context import SensorEvaluationContext
from lookout._author.partition_requests import DynamicRequest, dynamic_requests
from lookout._author.requests import RunRequest, SensorResult, SkipReason
from lookout._author.sensor_resources import call_with_resources
from lookout._base.errors import SensorEvaluationError
from lookout._base.fast_init import fast_init


class SensorKind(enum.Enum):
    """How a sensor is fed: polled as it is, or handed events from the event stream."""

    STANDARD = "standard"
    ASSET = "asset"
    RUN_STATUS = "run_status"
    # Handed other sensors' FAILURE ticks (lookout._author.failure_sensors).
    SENSOR_FAILURE = "sensor_failure"
    # Reads the materializations of several assets through per-asset cursors
    # (lookout._author.multi_asset_context); the runtime does not feed it yet.
    MULTI_ASSET = "multi_asset"


class Evaluable(Protocol):
    """What evaluation reads of a sensor (a ``SensorDefinition``, which imports this module).

    ``SensorKind`` is defined here for the same reason: the sensors name it.
    """

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> SensorKind: ...

    @property
    def takes_context(self) -> bool: ...

    @property
    def fn(self) -> Callable[..., Any]: ...

    @property
    def job_names(self) -> tuple[str, ...]: ...

    @property
    def resource_keys(self) -> tuple[str, ...]: ...


@fast_init
@dataclass(frozen=True)
class SensorOutcome:
    """What one evaluation asked for: run requests (job resolved) or a skip, and a cursor."""

    run_requests: tuple[RunRequest, ...]
    skip_message: str | None
    cursor: Any
    cursor_updated: bool
    # AssetMaterialization/AssetObservation from SensorResult(asset_events=...), in order:
    # for the runtime to commit to the event stream with the tick (not done yet).
    asset_events: tuple[Any, ...] = ()
    # Adds and deletes of dynamic partitions, in order, for the runtime to
    # commit with the tick (``SensorResult(dynamic_partitions_requests=...)``).
    dynamic_partitions_requests: tuple[DynamicRequest, ...] = ()


def call_sensor(sensor: Evaluable, context: SensorEvaluationContext, *extra: Any) -> Any:
    """Call the user's function with the context when it takes one, and its resources."""
    if not extra and not sensor.resource_keys and sensor.kind is SensorKind.STANDARD:
        # Most sensors: a plain function of the context or of nothing (every tick comes here).
        return sensor.fn(context) if sensor.takes_context else sensor.fn()
    if sensor.takes_context:
        if not extra and sensor.kind is SensorKind.STANDARD:
            return call_with_resources(
                sensor.fn, sensor.name, True, sensor.resource_keys, context, (context,), {}
            )
        return sensor.fn(context, *extra)
    if not extra and sensor.kind is SensorKind.STANDARD:
        return call_with_resources(
            sensor.fn, sensor.name, False, sensor.resource_keys, context, (), {}
        )
    return sensor.fn(*extra)


# A tuple, not ``A | B | C``: that builds a union object on every call.
_ITEMS = (RunRequest, SkipReason, SensorResult)


def collect_items(sensor_name: str, output: Any) -> list[Any]:
    """Flatten a return value or a generator into a list of items (runs the generator)."""
    if output is None:
        return []
    if isinstance(output, _ITEMS):
        return [output]
    if inspect.isgenerator(output) or isinstance(output, (list, tuple)):
        return [item for item in _iterate(output) if item is not None]
    raise SensorEvaluationError(
        f"sensor '{sensor_name}' returned a {type(output).__name__}; expected RunRequest, "
        "SkipReason, SensorResult, a list or generator of them, or None"
    )


def _iterate(items: Iterable[Any]) -> Iterable[Any]:
    yield from items


def normalize(
    sensor: Evaluable, context: SensorEvaluationContext, items: list[Any]
) -> SensorOutcome:
    """Check the items a sensor gave back and resolve each request's job."""
    name = sensor.name
    requests: list[RunRequest] = []
    skips: list[SkipReason] = []
    events: list[Any] = []
    dynamic: list[DynamicRequest] = []
    cursor, cursor_updated = context.cursor, context.cursor_updated
    for item in items:
        if isinstance(item, RunRequest):
            requests.append(item)
        elif isinstance(item, SkipReason):
            skips.append(item)
        elif isinstance(item, SensorResult):
            if len(items) > 1:
                raise SensorEvaluationError(
                    f"sensor '{name}' gave a SensorResult together with other values; "
                    "return the SensorResult alone"
                )
            if item.cursor is not None:
                if cursor_updated:
                    raise SensorEvaluationError(
                        f"sensor '{name}' set its cursor with context.update_cursor and in "
                        "its SensorResult; use one of them"
                    )
                context.update_cursor(item.cursor)
                cursor, cursor_updated = context.cursor, True
            requests.extend(item.run_requests or [])
            events.extend(checked_asset_events(name, item.asset_events))
            dynamic.extend(dynamic_requests(name, item.dynamic_partitions_requests))
            if isinstance(item.skip_reason, SkipReason):
                skips.append(item.skip_reason)
        else:
            raise SensorEvaluationError(
                f"sensor '{name}' yielded a {type(item).__name__} ({item!r}); expected "
                "RunRequest, SkipReason or SensorResult"
            )
    return _checked(sensor, requests, skips, cursor, cursor_updated, events, dynamic)


def _checked(
    sensor: Evaluable,
    requests: list[RunRequest],
    skips: list[SkipReason],
    cursor: Any,
    cursor_updated: bool,
    events: list[Any],
    dynamic: list[DynamicRequest],
) -> SensorOutcome:
    if skips and requests:
        raise SensorEvaluationError(
            f"sensor '{sensor.name}' gave both a SkipReason and {len(requests)} RunRequest(s); "
            "give one or the other"
        )
    if len(skips) > 1:
        raise SensorEvaluationError(f"sensor '{sensor.name}' gave {len(skips)} SkipReasons")
    # Built once, whole (every tick of every sensor comes here): no replace().
    resolved = tuple([resolve_job(sensor, r) for r in requests]) if requests else ()
    message = skips[0].skip_message if skips else None
    return SensorOutcome(
        resolved,
        message,
        cursor,
        cursor_updated,
        tuple(events) if events else (),
        tuple(dynamic) if dynamic else (),
    )


def resolve_job(sensor: Evaluable, request: RunRequest) -> RunRequest:
    """Fill in the request's job from the sensor's targets, or refuse a foreign job."""
    targets = sensor.job_names
    if request.job_name is not None:
        if request.job_name not in targets:
            raise SensorEvaluationError(
                f"sensor '{sensor.name}' asked for a run of job '{request.job_name}', which it "
                f"does not target (it targets {list(targets) or 'no job'})"
            )
        return request
    if len(targets) == 1:
        return replace(request, job_name=targets[0])
    if not targets:
        raise SensorEvaluationError(
            f"sensor '{sensor.name}' asked for a run but targets no job; pass job=, jobs= "
            "or target= to its decorator"
        )
    raise SensorEvaluationError(
        f"sensor '{sensor.name}' targets several jobs {list(targets)}; set job_name= on "
        "each RunRequest"
    )


def evaluate(sensor: Evaluable, context: SensorEvaluationContext, *extra: Any) -> SensorOutcome:
    """Call a sensor once and normalize what it gave back."""
    output = call_sensor(sensor, context, *extra)
    if type(output) is SkipReason:
        # Most ticks: one SkipReason, which nothing can contradict and nothing
        # resolves: the outcome normalize would build, without its lists.
        return SensorOutcome((), output.skip_message, context.cursor, context.cursor_updated)
    return normalize(sensor, context, collect_items(sensor.name, output))
