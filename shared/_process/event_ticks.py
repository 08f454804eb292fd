"""Evaluating asset, run-status and sensor-failure sensors against the event stream.

The cursor of such a sensor is the id of the last stream entry it has seen
(a string, as Dagster's asset sensors keep a storage id).  A tick reads the
entries after it, in batches, and calls the user's
function once per matching event; the cursor then moves past everything read,
so each event is seen once per sensor.  A tick stops taking events once its
time budget (a share of the timeout) is used: it commits the cursor at the
last event it finished and is due again at once, so a backlog that takes
longer than the timeout still advances.  A run-status sensor's first tick
starts at the newest entry; an asset sensor's first tick also hands it the
latest materialization already there, as Dagster's does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lookout._author.context import SensorEvaluationContext
from lookout._author.evaluate import SensorOutcome, call_sensor, collect_items, normalize
from lookout._author.events import DagsterRun, entry_from_event
from lookout._author.failure_sensors import SensorFailureContext
from lookout._author.requests import SkipReason
from lookout._author.run_status_context import RunStatusSensorContext
from lookout._author.runs import DagsterRunStatus
from lookout._author.sensors import SensorDefinition, SensorKind
from lookout._base.errors import SensorEvaluationError
from lookout._base.wire import EventKind, RunEvent
from lookout._core.streams import entry_id, stream_order

if TYPE_CHECKING:
    from lookout._core.storage import AssetEventLog, EventStream

BATCH = 1000


def _matches(sensor: SensorDefinition[Any, Any], event: RunEvent) -> bool:
    opts = sensor.options
    if sensor.kind is SensorKind.ASSET:
        return (
            event.kind == EventKind.ASSET_MATERIALIZATION.value
            and event.asset_key == opts["asset_key"]
        )
    if sensor.kind is SensorKind.SENSOR_FAILURE:
        return (
            event.kind == EventKind.SENSOR_TICK_FAILURE.value
            and event.sensor != sensor.name
            and (bool(opts["monitor_all"]) or event.sensor in opts["monitored_sensors"])
        )
    if event.kind != EventKind.RUN_STATUS.value or event.status != opts["run_status"]:
        return False
    return bool(opts["monitor_all"]) or event.job_name in opts["monitored_jobs"]


def stream_cursor(sensor_name: str, cursor: Any) -> str:
    """The stream id an event sensor's cursor holds.

    A stream id (``ms-seq``), or a storage id as the instance hands them out
    (an integer, as Dagster's asset sensors keep); anything else is an error
    naming the sensor, so the tick fails and the cursor stays where it was.
    """
    value = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
    ms, dash, seq = value.partition("-")
    if ms.isdigit() and (not dash or seq.isdigit()):
        return value if dash else entry_id(int(ms))
    raise SensorEvaluationError(
        f"sensor '{sensor_name}': cursor {cursor!r:.80} is not an event id (ms-seq) or a "
        "storage id; it may come from an older format or another sensor: reset the "
        "sensor's cursor to start over"
    )


def _events_after(events: EventStream, after: str) -> Iterator[tuple[str, RunEvent]]:
    while True:
        batch = events.read(after, BATCH)
        yield from batch
        if len(batch) < BATCH:
            return
        after = batch[-1][0]


def _start(
    sensor: SensorDefinition[Any, Any], stream: EventStream, assets: AssetEventLog | None
) -> tuple[str, list[Any]]:
    """Where a sensor with no cursor begins, and the events it sees on that first tick."""
    newest = stream.latest_id()
    if sensor.kind is SensorKind.ASSET:
        # The asset's own stream holds its newest materialization however long
        # ago it was; one from before that index existed is looked for among
        # the stream's recent events.
        key = sensor.options["asset_key"]
        indexed = assets.page(key, newest_first=True, count=1) if assets else []
        latest = indexed[0] if indexed else stream.latest_matching(lambda e: _matches(sensor, e))
        return newest, [latest] if latest else []
    return newest, []


def _call(
    sensor: SensorDefinition[Any, Any],
    context: SensorEvaluationContext,
    event_id: str,
    event: RunEvent,
) -> list[Any]:
    if sensor.kind is SensorKind.ASSET:
        return collect_items(
            sensor.name, call_sensor(sensor, context, entry_from_event(event_id, event))
        )
    if sensor.kind is SensorKind.SENSOR_FAILURE:
        failure = SensorFailureContext(
            failed_sensor_name=event.sensor or "",
            tick_id=event.tick_id or "",
            error=event.message or "",
            failure_time=event.timestamp,
            sensor_name=sensor.name,
            cursor=event_id,
            log=context.log,
            instance=context.instance,
            definitions=context.definitions,
        )
        return collect_items(sensor.name, call_sensor(sensor, failure))
    entry = entry_from_event(event_id, event)
    run_context = RunStatusSensorContext(
        sensor_name=sensor.name,
        cursor=event_id,
        log=context.log,
        dagster_run=DagsterRun(
            # _matches() let only RUN_STATUS events with a status through.
            event.run_id,
            event.job_name,
            DagsterRunStatus(event.status or ""),
            dict(event.tags),
        ),
        dagster_event=entry.dagster_event,
    )
    return collect_items(sensor.name, call_sensor(sensor, run_context))


@dataclass(frozen=True)
class EventOutcome:
    """An event sensor's outcome, and whether it stopped with events left to read."""

    outcome: SensorOutcome
    more: bool


def evaluate_event_sensor(
    sensor: SensorDefinition[Any, Any],
    context: SensorEvaluationContext,
    stream: EventStream,
    assets: AssetEventLog | None = None,
    *,
    budget: float = math.inf,
    clock: Callable[[], float] = time.monotonic,
) -> EventOutcome:
    """Call the sensor once per new matching event and merge what the calls gave.

    Once ``budget`` seconds are used, no new event is taken: the cursor stays
    at the last event finished, and ``more`` says the tick should come again
    at once (a backlog longer than the timeout still moves, never replays).
    """
    deadline = clock() + budget
    if context.cursor is None:
        cursor, pending = _start(sensor, stream, assets)
        events: Any = pending
    else:
        cursor = stream_cursor(sensor.name, context.cursor)
        events = _events_after(stream, cursor)
    items: list[Any] = []
    skips: list[SkipReason] = []
    seen = 0
    more = False
    for event_id, event in events:
        if clock() >= deadline:
            more = True
            break
        if _matches(sensor, event):
            seen += 1
            context.update_cursor(event_id)
            for item in _call(sensor, context, event_id, event):
                (skips if isinstance(item, SkipReason) else items).append(item)
        cursor = max(cursor, event_id, key=stream_order)
    context.update_cursor(cursor)
    if not items:
        # The sensor's own reason when it gave one (the latest), as Dagster shows it.
        items = [skips[-1] if skips else SkipReason(f"no new matching events ({seen} seen)")]
    return EventOutcome(normalize(sensor, context, items), more)
