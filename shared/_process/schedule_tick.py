"""One tick of a schedule: the time it runs for, its run requests, its next fire time.

A schedule sits in the same due index as the sensors, at its next cron fire
time, and its tick is committed by the same script.  The tick's scheduled
time is the most recent fire time at or before the later of its due time and
now: normally the due time itself; after downtime (the due time long past)
the most recent missed time only, as Dagster does for a schedule without a
partition set; for a tick given back or lost and ticked again, the time it
was for, if no later one has come.  Its next due time is the first fire time
after that, so missed times are never backfilled.

A schedule never launches twice for one scheduled time: each run's key in
the commit's run-key hash is that time (with the user's run key, when one is
given), and the commit happens at most once per tick id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lookout._author.cron import cron_iter, next_fire_times, zone
from lookout._author.definitions import Definitions
from lookout._author.launch_checks import checked_requests
from lookout._author.requests import RunRequest
from lookout._author.schedules import ScheduleDefinition, ScheduleEvaluationContext
from lookout._base.tracebacks import user_traceback
from lookout._base.wire import LaunchRequest, TickRecord, TickStatus
from lookout._core.settings import Settings
from lookout._core.storage import SensorState, TickCommit
from lookout._process.launches import launch_of, listed, run_tags
from lookout._process.limits import (
    RECORD_ERROR_CHARS,
    RECORD_TRACEBACK_CHARS,
    check_requests,
    cut,
)
from lookout._process.log_capture import LogCapture
from lookout._process.memory import MemoryLimit
from lookout._process.timeout import EvaluationTimer

# Dagster's tag of a schedule's run: the time it was scheduled for, in UTC.
SCHEDULED_TIME_TAG = ".dagster/scheduled_execution_time"
# How far back the most recent fire time is looked for, in widening windows:
# a window is tried only when the narrower one had no fire time, so a
# frequent schedule is answered from the first.
_LOOKBACK = (3600.0, 86400.0, 32 * 86400.0, 367 * 86400.0, 5 * 366 * 86400.0)


def scheduled_time(schedule: ScheduleDefinition, due_at: float, now: float) -> dt.datetime:
    """The fire time a tick due at ``due_at`` and evaluated at ``now`` runs for."""
    tz = zone(schedule.timezone, f"schedule '{schedule.name}'")
    until = max(due_at, now)
    for window in _LOOKBACK:
        latest = None
        for when in cron_iter(schedule.cron_schedule, _utc(until - window), tz):
            if when.timestamp() > until:
                break
            latest = when
        if latest is not None:
            return latest
    return _utc(due_at).astimezone(tz)  # fires less than every five years


def next_due(schedule: ScheduleDefinition, after: float) -> float:
    """The schedule's first fire time after ``after`` (unix s)."""
    return next_fire_times(schedule.cron_schedule, after, 1, schedule.timezone)[0].timestamp()


def run_key_for(scheduled: dt.datetime, run_key: str | None) -> str:
    """The key a schedule's run is deduplicated by: its time, and the user's key if any.

    Every key of a schedule has this form, so an implicit key (no ``|``
    after the fixed-width time) never equals one the user gave.
    """
    stamp = _iso(scheduled)
    return stamp if run_key is None else f"{stamp}|{run_key}"


def schedule_tags(scheduled: dt.datetime, request: RunRequest) -> dict[str, str]:
    """The request's tags (with ``dagster/schedule_name``) plus those Dagster adds at launch."""
    return run_tags(request, {SCHEDULED_TIME_TAG: _iso(scheduled)})


def _named(name: str, exc: BaseException) -> str:
    """A failed tick's error, naming the schedule when the error does not already."""
    what = f"schedule '{name}'"
    message = str(exc)
    return f"{type(exc).__name__}: {message if what in message else f'{what}: {message}'}"


def _utc(at: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(at, dt.UTC)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat()


@dataclass(frozen=True)
class _Evaluated:
    requests: tuple[RunRequest, ...]
    skip: str | None


class ScheduleTicks:
    """Evaluates the ticks of a location's schedules into commits, as ``TickRunner`` does
    for sensors (same timeout, same record, same commit).
    """

    def __init__(
        self,
        definitions: Definitions,
        settings: Settings,
        timer: EvaluationTimer,
        clock: Callable[[], float],
        worker: str,
        instance: Any,
        memory: MemoryLimit,
    ) -> None:
        self.definitions = definitions
        self.settings = settings
        self.timer = timer
        self.clock = clock
        self.worker = worker
        self.instance = instance
        # The sensors' limit: a schedule's evaluation is user code like theirs.
        self.memory = memory

    def evaluate(
        self,
        schedule: ScheduleDefinition,
        state: SensorState,
        *,
        tick_id: str,
        due_at: float | None,
        holder: str = "",
    ) -> TickCommit:
        """Run the schedule for its scheduled time; a user error is a FAILURE tick.

        ``holder``: the tick lease's holder, whom the commit names.
        """
        started = self.clock()
        scheduled = scheduled_time(schedule, started if due_at is None else due_at, started)
        record = TickRecord(
            tick_id=tick_id,
            sensor=schedule.name,
            status=TickStatus.SKIPPED.value,
            started_at=started,
            ended_at=started,
            due_at=scheduled.timestamp(),
            cursor_before=state.cursor,
            cursor_after=state.cursor,
            worker=self.worker,
        )
        following = next_due(schedule, max(started, scheduled.timestamp()))
        logs = LogCapture()  # the schedule's context.log lines, kept on the record
        try:
            with self.memory.applied(f"schedule '{schedule.name}'"):
                done = self.timer.call(
                    lambda: self._run(schedule, scheduled, logs),
                    self.settings.tick_timeout,
                    f"schedule '{schedule.name}'",
                    hard_after=self.settings.hard_exit_after,
                )
            check_requests(schedule.name, done.requests, self.settings.max_run_requests)
            launches = self._launches(schedule.name, tick_id, scheduled, done.requests, started)
        # BaseException: as for a sensor, a schedule's sys.exit() fails its own tick only.
        except BaseException as exc:
            failed = replace(
                record,
                status=TickStatus.FAILURE.value,
                ended_at=self.clock(),
                error=cut(_named(schedule.name, exc), RECORD_ERROR_CHARS),
                traceback=cut(user_traceback(exc), RECORD_TRACEBACK_CHARS),
                logs=logs.lines(),
            )
            return TickCommit(failed, [], False, None, following, holder=holder)
        record = replace(
            record,
            status=(TickStatus.SUCCESS if launches else TickStatus.SKIPPED).value,
            ended_at=self.clock(),
            skip_reason=done.skip,
            requests=listed([r for r, _, _ in launches]),
            logs=logs.lines(),
        )
        launched = [(k, p) for _, k, p in launches]
        return TickCommit(record, launched, False, None, following, holder=holder)

    def _run(
        self, schedule: ScheduleDefinition, scheduled: dt.datetime, logs: LogCapture
    ) -> _Evaluated:
        context = ScheduleEvaluationContext(
            instance=self.instance,
            scheduled_execution_time=scheduled,
            resources=self.definitions.resources,
            schedule_name=schedule.name,
        )
        # The context tears down the resources the evaluation built.
        with context, logs.on(context.log):
            data = schedule.evaluate_tick(context)
        requests = [
            r if r.job_name is not None else replace(r, job_name=schedule.job_name)
            for r in data.run_requests
        ]
        checked = checked_requests(schedule.name, requests, self.definitions.get_job, self.instance)
        return _Evaluated(checked, data.skip_message)

    def _launches(
        self,
        name: str,
        tick_id: str,
        scheduled: dt.datetime,
        requests: tuple[RunRequest, ...],
        now: float,
    ) -> list[tuple[LaunchRequest, str, bytes]]:
        out = []
        for i, request in enumerate(requests):
            tags = schedule_tags(scheduled, request)
            what = f"schedule '{name}'"
            launch, payload = launch_of(
                self.definitions, what, name, tick_id, i, request, tags, now
            )
            out.append((launch, run_key_for(scheduled, request.run_key), payload))
        return out
