"""One tick of one sensor: load its state, evaluate with a timeout, commit atomically.

``TickRunner`` is what the CLI, the Celery tick task and the tests call; it
owns no state of its own besides the objects it is given: the sensors' state,
the tick ledger it claims and commits in, the event stream (for event
sensors) and the instance a sensor's ``context.instance`` is (asset and
multi-asset sensors read asset events through it).  The asset events a
sensor reports commit with its tick.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import redis

from lookout._author.asset_event_check import check_known_assets
from lookout._author.context import HasRunKey, SensorEvaluationContext, bounded_lookup
from lookout._author.definitions import Definitions
from lookout._author.evaluate import SensorOutcome, evaluate
from lookout._author.instance_queries import runless_event
from lookout._author.launch_checks import checked_requests
from lookout._author.partitions import AddDynamicPartitionsRequest
from lookout._author.requests import SENSOR_NAME_TAG, RunRequest
from lookout._author.schedules import ScheduleDefinition
from lookout._author.sensors import SensorDefinition, SensorKind
from lookout._base.codec import decode_value, encode, encode_value
from lookout._base.errors import CodecError, LookoutError
from lookout._base.tracebacks import user_traceback
from lookout._base.wire import LaunchRequest, RunEvent, TickRecord, TickStatus, launch_run_id
from lookout._core.settings import Settings
from lookout._core.storage import (
    EventStream,
    Repositories,
    RunKeyLookup,
    RunKeyPolicy,
    SensorState,
    SensorStore,
    TickCommit,
    TickLedger,
)
from lookout._core.storage.history import may_fold, with_flags
from lookout._process.instance import RuntimeInstance
from lookout._process.jitter import jitter_window, tick_delay
from lookout._process.launches import launch_of, listed, run_tags
from lookout._process.limits import (
    RECORD_ERROR_CHARS,
    RECORD_REQUESTS,
    RECORD_TRACEBACK_CHARS,
    check_cursor,
    check_requests,
    cut,
    recorded_cursor,
)
from lookout._process.log_capture import LogCapture
from lookout._process.memory import MemoryLimit
from lookout._process.schedule_tick import ScheduleTicks
from lookout._process.timeout import EvaluationTimer

log = logging.getLogger(__name__)

Clock = Callable[[], float]
# What a tick evaluates: a sensor, or a schedule (on the same beat).
Instigator = SensorDefinition[Any, Any] | ScheduleDefinition


# Read once: an enum member's ``.value`` is a descriptor call, and every tick asks.
_SUCCESS, _SKIPPED = TickStatus.SUCCESS.value, TickStatus.SKIPPED.value
# The kinds whose function is the whole evaluation (no event stream read for it).
_WHOLE_EVALUATION = (SensorKind.STANDARD, SensorKind.MULTI_ASSET)


class TickInFlightError(LookoutError):
    """Another tick of the sensor is queued or running; invariant 1 forbids a second."""


def new_tick_id() -> str:
    return uuid.uuid4().hex


def launch_tags(sensor: str, request: RunRequest) -> dict[str, str]:
    """The request's tags plus the ones Dagster puts on every sensor-launched run."""
    return run_tags(request, {SENSOR_NAME_TAG: sensor})


@dataclass(frozen=True)
class _Failure:
    error: str
    traceback: str
    logs: list[str]


class _Plan:
    """What every tick of one sensor needs and none changes, worked out at its first
    tick in the process (``TickRunner._plan``) instead of at each.
    """

    __slots__ = ("has_key", "interval", "log", "sensor", "what", "window")

    def __init__(self, sensor: SensorDefinition[Any, Any], runner: TickRunner) -> None:
        self.sensor = sensor
        self.what = f"sensor '{sensor.name}'"
        # context.log: the logger the context would look up by name, which
        # takes the logging module's lock on every call.
        self.log = logging.getLogger(f"lookout.sensor.{sensor.name}")
        self.interval = float(sensor.minimum_interval_seconds)
        self.window = jitter_window(sensor, runner.settings.sensor_jitter)
        # context.has_run_key's reads of this sensor's keys (bounded per tick), if a store is given.
        self.has_key = _run_key_reads(runner.run_keys, sensor)


def partition_changes(outcome: SensorOutcome) -> list[tuple[str, str, list[str]]]:
    """A sensor result's dynamic partitions requests, as the commit script applies them."""
    return [
        (
            "add" if isinstance(r, AddDynamicPartitionsRequest) else "del",
            r.partitions_def_name,
            list(r.partition_keys),
        )
        for r in outcome.dynamic_partitions_requests
    ]


class TickRunner:
    """Evaluates and commits ticks for the sensors and schedules of one ``Definitions``.

    With ``partitions``, dynamic partitions live in Redis: ``context.instance``
    reads them, run requests' partitions are checked against them, and a
    tick's ``SensorResult(dynamic_partitions_requests=...)`` changes them
    with its commit.
    """

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
        instance: RuntimeInstance | None = None,
        run_keys: RunKeyLookup | None = None,
    ) -> None:
        self.definitions = definitions
        self.run_keys = run_keys  # context.has_run_key's reads (None: not available)
        self.instance = instance
        self.sensors = sensors
        self.ticks = ticks
        self.events = events
        self.settings = settings
        self.clock = clock
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.timer = EvaluationTimer()
        self.memory = MemoryLimit(settings.sensor_memory_mb)
        # Every tick looks its instigator up by name: one dict for both kinds
        # (Definitions refuses a schedule named as a sensor).
        self._instigators: dict[str, Instigator] = {s.name: s for s in definitions.sensors}
        self._instigators.update((s.name, s) for s in definitions.schedules)
        self._plans: dict[str, _Plan] = {}
        self._capture: LogCapture | None = None
        self.schedules = ScheduleTicks(
            definitions, settings, self.timer, clock, self.worker, self.instance, self.memory
        )

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Evaluations in a row (a worker's message): the timeout's timers and the
        memory limit stay set between them, rather than set and put back for each.
        """
        with self.timer.session(), self.memory.session():
            yield

    def prepare(self) -> None:
        """Work out every sensor's plan now, not at its first tick: a worker does it
        before ``gc.freeze()``, so that the collector never walks them again.
        """
        for sensor in self.definitions.sensors:
            self._plan(sensor)

    def _plan(self, sensor: SensorDefinition[Any, Any]) -> _Plan:
        plan = self._plans.get(sensor.name)
        if plan is None or plan.sensor is not sensor:
            plan = self._plans[sensor.name] = _Plan(sensor, self)
        return plan

    def _log_capture(self) -> LogCapture:
        # One handler for the evaluations in a row, emptied for each: building a
        # logging handler registers it with the logging module, per tick.  One
        # an evaluation did not give back (abandoned in its thread at its
        # timeout, or it failed before logging began) is left to it: a new one.
        capture = self._capture
        if capture is None or capture.in_use:
            capture = self._capture = LogCapture()
        capture.clear()
        capture.in_use = True
        return capture

    def instigator(self, name: str) -> Instigator:
        """The sensor, or else the schedule, of that name (an error naming it if neither)."""
        found = self._instigators.get(name)
        # Neither: the definitions' error, which names the sensors they know.
        return found if found is not None else self.definitions.get_sensor(name)

    def tick(
        self, name: str, *, tick_id: str | None = None, due_at: float | None = None
    ) -> TickRecord | None:
        """Evaluate and commit one tick, holding its lease throughout.

        Without ``tick_id`` the tick claims the sensor itself (the CLI's way);
        with one, the scheduler already claimed it.  ``None`` means the tick
        no longer holds the lease (committed by another, or superseded).  One
        evaluation ends within its timeout and hard exit, well inside the
        lease, so this path needs no renewing; if anything here raises, the
        tick is given back.
        """
        sensor = self.instigator(name)
        if tick_id is None:
            tick_id = new_tick_id()
            held = self.ticks.claim(name, tick_id, self.settings.inflight_ttl, self.clock())
            if held != tick_id:
                raise TickInFlightError(f"sensor '{name}' has tick {held} in flight")
        holder = f"{self.worker}:{tick_id}"
        [(_, state)] = self.ticks.take_up(
            [(name, tick_id)], holder, self.settings.inflight_ttl
        ).answers
        if state is None:
            return None  # committed already, superseded, or another process has it
        try:
            commit = self.evaluate(sensor, state, tick_id=tick_id, due_at=due_at, holder=holder)
            return self.ticks.commit(commit)
        except BaseException:
            self._give_back(name, tick_id, holder)
            raise

    def _give_back(self, name: str, tick_id: str, holder: str) -> None:
        try:
            self.ticks.give_back([(name, tick_id, None)], self.clock(), holder=holder)
        except redis.RedisError as exc:
            log.warning("tick %s of %s not given back (its lease lapses): %s", tick_id, name, exc)

    def preview(self, name: str) -> TickRecord:
        """Evaluate without committing anything; duplicates are reported, not claimed."""
        sensor = self.instigator(name)
        state = self.sensors.state(name)
        commit = self.evaluate(sensor, state, tick_id=new_tick_id(), due_at=None)
        keys = [k for k, _ in commit.launches]
        used = iter(self.sensors.run_keys_used(name, [k for k in keys if k is not None]))
        return with_flags(
            commit.record, "".join("0" if k is not None and next(used) else "1" for k in keys)
        )

    def evaluate(
        self,
        sensor: Instigator,
        state: SensorState,
        *,
        tick_id: str,
        due_at: float | None,
        holder: str = "",
    ) -> TickCommit:
        """Run the sensor function and build the commit; user errors become FAILURE ticks.

        ``holder``: the tick lease's holder, whom the commit names.
        """
        if isinstance(sensor, ScheduleDefinition):
            return self.schedules.evaluate(
                sensor, state, tick_id=tick_id, due_at=due_at, holder=holder
            )
        plan = self._plan(sensor)
        started = self.clock()
        logs = self._log_capture()  # [tick logs] context.log lines, kept on the record
        try:
            cursor = decode_value(state.cursor) if state.cursor is not None else None
            has_key = plan.has_key
            context = SensorEvaluationContext(
                sensor_name=sensor.name,
                cursor=cursor,
                trigger_payload=state.trigger_payload if state.payload is not None else None,
                # Decoding the last tick record is left to the few sensors that ask.
                last_tick_completion_time=lambda: state.last.ended_at if state.last else None,
                resources=self.definitions.resources,
                instance=self.instance.for_tick() if self.instance else None,
                definitions=self.definitions,
                log=plan.log,
                run_key_lookup=bounded_lookup(
                    sensor.name, has_key, self.settings.max_run_key_lookups
                )
                if has_key is not None
                else None,
            )
            with self.memory.applied(plan.what):
                outcome, more = self.timer.call(
                    lambda: self._evaluate_kind(sensor, context, logs),
                    self.settings.tick_timeout,
                    plan.what,
                    hard_after=self.settings.hard_exit_after,
                )
            # Most ticks ask for nothing: what they do not ask for is not built.
            launches: list[tuple[LaunchRequest, bytes]] = []
            if outcome.run_requests:
                check_requests(sensor.name, outcome.run_requests, self.settings.max_run_requests)
                launches = self._launches(sensor.name, tick_id, outcome, started)
            new_cursor = encode_value(outcome.cursor) if outcome.cursor_updated else None
            asset_events = (
                _asset_events(sensor.name, outcome, started) if outcome.asset_events else []
            )
            if new_cursor is not None:
                check_cursor(sensor.name, new_cursor, self.settings.max_cursor_bytes)
        # BaseException: a sensor that calls sys.exit() or raises KeyboardInterrupt
        # fails its own tick; it must not take the worker process (and the
        # other ticks of its message) down with it.
        except BaseException as exc:
            return self._failed(
                plan,
                state,
                tick_id,
                due_at,
                started,
                _Failure(f"{type(exc).__name__}: {exc}", user_traceback(exc), logs.lines()),
                holder,
            )
        ended = self.clock()
        status = _SUCCESS if launches else _SKIPPED
        before, before_digest = recorded_cursor(state.cursor)
        after, after_digest = (
            recorded_cursor(new_cursor) if outcome.cursor_updated else (before, before_digest)
        )
        shown = launches[:RECORD_REQUESTS]
        record = TickRecord(
            tick_id=tick_id,
            sensor=sensor.name,
            status=status,
            started_at=started,
            ended_at=ended,
            due_at=due_at,
            skip_reason=cut(outcome.skip_message, RECORD_ERROR_CHARS),
            requests=listed([r for r, _ in shown]) if shown else [],
            cursor_before=before,
            cursor_after=after,
            worker=self.worker,
            cursor_before_digest=before_digest,
            cursor_after_digest=after_digest,
            requests_total=len(launches) if len(shown) < len(launches) else None,
            logs=logs.lines(),
        )
        return TickCommit(
            record=record,
            payload=state.payload,
            launches=[(r.run_key, payload) for r, payload in launches],
            store_cursor=outcome.cursor_updated,
            cursor=new_cursor,
            # An event backlog left to read: due again at once.
            next_due=ended if more else self._next_due(plan, started, ended, tick_id),
            asset_events=asset_events,
            holder=holder,
            partition_changes=partition_changes(outcome)
            if outcome.dynamic_partitions_requests
            else (),
            run_keys=run_key_policy(sensor, outcome.run_requests, [r for r, _ in launches])
            if launches or sensor.run_key_ttl_seconds is not None
            else None,
            fold=status != _SKIPPED or may_fold(state.last_entry, record.skip_reason),
        )

    def _evaluate_kind(
        self,
        sensor: SensorDefinition[Any, Any],
        context: SensorEvaluationContext,
        logs: LogCapture,
    ) -> tuple[SensorOutcome, bool]:
        """The outcome, and whether the sensor has more to read at once (an event backlog)."""
        more = False
        # The context tears down the resources the evaluation built, once per tick.
        with context, logs.on(context.log):
            if sensor.kind in _WHOLE_EVALUATION:
                # A multi-asset sensor's function is its whole evaluation: it reads
                # context.instance and moves its per-asset cursors itself.
                outcome = evaluate(sensor, context)
            else:
                from lookout._process.event_ticks import evaluate_event_sensor

                assets = self.instance.assets if self.instance else None
                budget = self.settings.tick_timeout * self.settings.event_budget
                done = evaluate_event_sensor(sensor, context, self.events, assets, budget=budget)
                outcome, more = done.outcome, done.more
        instance = context.instance
        if isinstance(instance, RuntimeInstance) and instance.reported:
            # Reported through context.instance: committed with the tick, first.
            events = (*instance.reported, *outcome.asset_events)
            outcome = replace(outcome, asset_events=events)
        # Events for assets this location does not know fail the tick, naming
        # them (the location's keys listed only for a tick that reports some).
        if outcome.asset_events:
            check_known_assets(sensor.name, outcome.asset_events, self.definitions.asset_keys)
        if not outcome.run_requests:
            return outcome, more  # most ticks: nothing asked for, nothing to check or rebuild
        requests = checked_requests(
            sensor.name,
            outcome.run_requests,
            self.definitions.get_job,
            self.instance,  # None (not checked) only where no store was given
            outcome.dynamic_partitions_requests,
        )
        return replace(outcome, run_requests=requests), more

    def _launches(
        self, sensor: str, tick_id: str, outcome: SensorOutcome, now: float
    ) -> list[tuple[LaunchRequest, bytes]]:
        return [
            launch_of(
                self.definitions,
                f"sensor '{sensor}'",
                sensor,
                tick_id,
                i,
                request,
                launch_tags(sensor, request),
                now,
            )
            for i, request in enumerate(outcome.run_requests)
        ]

    def _failed(
        self,
        plan: _Plan,
        state: SensorState,
        tick_id: str,
        due_at: float | None,
        started: float,
        failure: _Failure,
        holder: str,
    ) -> TickCommit:
        ended = self.clock()
        cursor, digest = recorded_cursor(state.cursor)
        record = TickRecord(
            tick_id=tick_id,
            sensor=plan.sensor.name,
            status=TickStatus.FAILURE.value,
            started_at=started,
            ended_at=ended,
            due_at=due_at,
            error=cut(failure.error, RECORD_ERROR_CHARS),
            traceback=cut(failure.traceback, RECORD_TRACEBACK_CHARS),
            cursor_before=cursor,
            cursor_after=cursor,
            worker=self.worker,
            cursor_before_digest=digest,
            cursor_after_digest=digest,
            logs=failure.logs,
        )
        # A failed tick leaves the cursor where it was and is scheduled again.
        next_due = self._next_due(plan, started, ended, tick_id)
        return TickCommit(record, [], False, None, next_due, payload=state.payload, holder=holder)

    def _next_due(self, plan: _Plan, started: float, ended: float, tick_id: str) -> float:
        # A slow evaluation pushes the next one back (invariant 1); jitter
        # (lookout._process.jitter) only ever pushes it further.
        due = max(started + plan.interval, ended)
        return due + tick_delay(plan.sensor.name, tick_id, plan.window) if plan.window else due


def _run_key_reads(
    store: RunKeyLookup | None, sensor: SensorDefinition[Any, Any]
) -> HasRunKey | None:
    """``context.has_run_key``'s unbounded read of ``sensor``'s run keys (``None``: no store)."""
    if store is None:
        return None
    name, ttl = sensor.name, sensor.run_key_ttl_seconds
    return lambda key: store.has(name, key, ttl)


def run_key_policy(
    sensor: SensorDefinition[Any, Any],
    requests: Sequence[RunRequest],
    launches: Sequence[LaunchRequest],
) -> RunKeyPolicy | None:
    """The run-key lifecycle a tick commits with; ``None`` (Dagster's) unless one is asked for.

    Asked for by the sensor's ``rerun_failed_run_keys`` or ``run_key_ttl_seconds``,
    or by a request's ``rerun_if_failed=True``; a request's own flag wins
    over the sensor's.
    """
    rerun = [
        sensor.rerun_failed_run_keys if r.rerun_if_failed is None else r.rerun_if_failed
        for r in requests
    ]
    if not any(rerun) and sensor.run_key_ttl_seconds is None:
        return None
    run_ids = [launch_run_id(launch.request_id) for launch in launches]
    return RunKeyPolicy(rerun, run_ids, sensor.run_key_ttl_seconds)


def _asset_events(sensor: str, outcome: SensorOutcome, now: float) -> list[RunEvent]:
    """The event stream's entries for the asset events a sensor reported, checked to encode."""
    events = [runless_event(e, now, sensor) for e in outcome.asset_events]
    for i, event in enumerate(events):
        try:
            encode(event)
        except CodecError as exc:
            raise CodecError(f"sensor '{sensor}': asset event {i} cannot be stored: {exc}") from exc
    return events


def tick_runner(
    definitions: Definitions, repos: Repositories, settings: Settings, *, clock: Clock = time.time
) -> TickRunner:
    """A runner on the repositories a tick uses, taken from ``repos``."""
    instance = RuntimeInstance(repos.assets, repos.events, repos.runs, repos.partitions)
    return TickRunner(
        definitions,
        settings,
        repos.sensors,
        repos.ticks,
        repos.events,
        clock=clock,
        instance=instance,
        run_keys=repos.run_keys,
    )
