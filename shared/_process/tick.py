"""One tick of one sensor: load its state, evaluate with a timeout, commit atomically.

``TickRunner`` is what the CLI, the Celery tick task and the tests call; it
owns no state of its own besides the objects it is given: the sensors' state,
the tick ledger it claims and commits in, and the event stream (for event
sensors).
"""

from __future__ import annotations

import os
import socket
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lookout._author.asset_event_check import check_known_assets
from lookout._author.context import SensorEvaluationContext
from lookout._author.definitions import Definitions
from lookout._author.evaluate import SensorOutcome, evaluate
from lookout._author.launch_checks import checked_requests
from lookout._author.requests import PARTITION_TAG, RUN_KEY_TAG, SENSOR_NAME_TAG, RunRequest
from lookout._author.selection import selection_keys
from lookout._author.sensors import SensorDefinition, SensorKind
from lookout._base.codec import decode_value, encode, encode_value
from lookout._base.errors import CodecError, LookoutError
from lookout._base.wire import LaunchRequest, TickRecord, TickStatus
from lookout._core.settings import Settings
from lookout._core.storage import (
    EventStream,
    Repositories,
    SensorState,
    SensorStore,
    TickCommit,
    TickLedger,
)
from lookout._core.storage.history import with_flags
from lookout._process.timeout import EvaluationTimer

Clock = Callable[[], float]


class TickInFlightError(LookoutError):
    """Another tick of the sensor is queued or running; invariant 1 forbids a second."""


def new_tick_id() -> str:
    return uuid.uuid4().hex


def launch_tags(sensor: str, request: RunRequest) -> dict[str, str]:
    """The request's tags plus the ones Dagster puts on every sensor-launched run."""
    tags = {**request.tags, SENSOR_NAME_TAG: sensor}
    if request.run_key is not None:
        tags[RUN_KEY_TAG] = request.run_key
    if request.partition_key is not None:
        tags[PARTITION_TAG] = request.partition_key
    return tags


@dataclass(frozen=True)
class _Failure:
    error: str
    traceback: str


class TickRunner:
    """Evaluates and commits ticks for the sensors of one ``Definitions``."""

    def __init__(
        self,
        definitions: Definitions,
        settings: Settings,
        sensors: SensorStore,
        ticks: TickLedger,
        events: EventStream,
        *,
        clock: Clock = time.time,
        worker: str | None = None,
    ) -> None:
        self.definitions = definitions
        self.sensors = sensors
        self.ticks = ticks
        self.events = events
        self.settings = settings
        self.clock = clock
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.timer = EvaluationTimer()

    def tick(
        self, name: str, *, tick_id: str | None = None, due_at: float | None = None
    ) -> TickRecord | None:
        """Evaluate and commit one tick.

        Without ``tick_id`` the tick claims the sensor itself (the CLI's way);
        with one, the scheduler already claimed it.  ``None`` means the commit
        found the tick already committed or superseded (a redelivery).
        """
        sensor = self.definitions.get_sensor(name)
        if tick_id is None:
            tick_id = new_tick_id()
            now = self.clock()
            held = self.ticks.claim(name, tick_id, now, now + self.settings.inflight_ttl)
            if held != tick_id:
                raise TickInFlightError(f"sensor '{name}' has tick {held} in flight")
        state = self.sensors.state(name)
        if state.inflight != tick_id:
            return None  # committed already, or superseded after its mark expired
        commit = self.evaluate(sensor, state, tick_id=tick_id, due_at=due_at)
        return self.ticks.commit(commit)

    def preview(self, name: str) -> TickRecord:
        """Evaluate without committing anything; duplicates are reported, not claimed."""
        sensor = self.definitions.get_sensor(name)
        state = self.sensors.state(name)
        commit = self.evaluate(sensor, state, tick_id=new_tick_id(), due_at=None)
        keys = [k for k, _ in commit.launches]
        used = iter(self.sensors.run_keys_used(name, [k for k in keys if k is not None]))
        return with_flags(
            commit.record, "".join("0" if k is not None and next(used) else "1" for k in keys)
        )

    def evaluate(
        self,
        sensor: SensorDefinition[Any, Any],
        state: SensorState,
        *,
        tick_id: str,
        due_at: float | None,
    ) -> TickCommit:
        """Run the sensor function and build the commit; user errors become FAILURE ticks."""
        started = self.clock()
        try:
            cursor = decode_value(state.cursor) if state.cursor is not None else None
            context = SensorEvaluationContext(
                sensor_name=sensor.name,
                cursor=cursor,
                trigger_payload=state.trigger_payload,
                # Decoding the last tick record is left to the few sensors that ask.
                last_tick_completion_time=lambda: state.last.ended_at if state.last else None,
                resources=self.definitions.resources,
            )
            outcome = self.timer.call(
                lambda: self._evaluate_kind(sensor, context),
                self.settings.tick_timeout,
                f"sensor '{sensor.name}'",
                hard_after=self.settings.inflight_margin / 2,
            )
            launches = self._launches(sensor.name, tick_id, outcome, started)
            new_cursor = encode_value(outcome.cursor) if outcome.cursor_updated else None
        # BaseException: a sensor that calls sys.exit() or raises KeyboardInterrupt
        # fails its own tick; it must not take the worker process (and the
        # other ticks of its message) down with it.
        except BaseException as exc:
            return self._failed(
                sensor,
                state,
                tick_id,
                due_at,
                started,
                _Failure(f"{type(exc).__name__}: {exc}", traceback.format_exc()),
            )
        ended = self.clock()
        status = TickStatus.SUCCESS if launches else TickStatus.SKIPPED
        record = TickRecord(
            tick_id=tick_id,
            sensor=sensor.name,
            status=status.value,
            started_at=started,
            ended_at=ended,
            due_at=due_at,
            skip_reason=outcome.skip_message,
            requests=[
                {"request_id": r.request_id, "run_key": r.run_key, "job_name": r.job_name}
                for r, _ in launches
            ],
            cursor_before=state.cursor,
            cursor_after=new_cursor if outcome.cursor_updated else state.cursor,
            worker=self.worker,
        )
        return TickCommit(
            record=record,
            payload=state.payload,
            launches=[(r.run_key, payload) for r, payload in launches],
            store_cursor=outcome.cursor_updated,
            cursor=new_cursor,
            next_due=self._next_due(sensor, started, ended),
        )

    def _evaluate_kind(
        self, sensor: SensorDefinition[Any, Any], context: SensorEvaluationContext
    ) -> SensorOutcome:
        # The context tears down the resources the evaluation built, once per tick.
        with context:
            if sensor.kind is SensorKind.STANDARD:
                outcome = evaluate(sensor, context)
                # Events for assets this location does not know fail the tick, naming them.
                check_known_assets(sensor.name, outcome.asset_events, self.definitions.asset_keys)
            else:
                from lookout._process.event_ticks import evaluate_event_sensor

                outcome = evaluate_event_sensor(sensor, context, self.events)
        requests = checked_requests(
            sensor.name,
            outcome.run_requests,
            self.definitions.get_job,
            None,  # dynamic partitions are not stored in Redis yet: not checked here
            outcome.dynamic_partitions_requests,
        )
        return replace(outcome, run_requests=requests)

    def _launches(
        self, sensor: str, tick_id: str, outcome: SensorOutcome, now: float
    ) -> list[tuple[LaunchRequest, bytes]]:
        launches = []
        for i, request in enumerate(outcome.run_requests):
            assert request.job_name is not None  # resolved by evaluate()
            launch = LaunchRequest(
                request_id=f"{tick_id}-{i}",
                sensor=sensor,
                tick_id=tick_id,
                job_name=request.job_name,
                run_key=request.run_key,
                run_config=dict(request.run_config),
                tags=launch_tags(sensor, request),
                partition_key=request.partition_key,
                created_at=now,
                asset_selection=selection_keys(self.definitions, sensor, request),
            )
            try:
                payload = encode(launch)
            except CodecError as exc:
                raise CodecError(
                    f"sensor '{sensor}': run request {i} cannot be stored: {exc}"
                ) from exc
            launches.append((launch, payload))
        return launches

    def _failed(
        self,
        sensor: SensorDefinition[Any, Any],
        state: SensorState,
        tick_id: str,
        due_at: float | None,
        started: float,
        failure: _Failure,
    ) -> TickCommit:
        ended = self.clock()
        record = TickRecord(
            tick_id=tick_id,
            sensor=sensor.name,
            status=TickStatus.FAILURE.value,
            started_at=started,
            ended_at=ended,
            due_at=due_at,
            error=failure.error,
            traceback=failure.traceback,
            cursor_before=state.cursor,
            cursor_after=state.cursor,
            worker=self.worker,
        )
        # A failed tick leaves the cursor where it was and is scheduled again.
        next_due = self._next_due(sensor, started, ended)
        return TickCommit(record, [], False, None, next_due, payload=state.payload)

    def _next_due(self, sensor: SensorDefinition[Any, Any], started: float, ended: float) -> float:
        # A slow evaluation pushes the next one back (invariant 1).
        return max(started + float(sensor.minimum_interval_seconds), ended)


def tick_runner(
    definitions: Definitions, repos: Repositories, settings: Settings, *, clock: Clock = time.time
) -> TickRunner:
    """A runner on the three repositories a tick uses, taken from ``repos``."""
    return TickRunner(definitions, settings, repos.sensors, repos.ticks, repos.events, clock=clock)
