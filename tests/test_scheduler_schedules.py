"""Schedules in the scheduler, in process against a real Redis: synced, due, claimed.

A RUNNING schedule is due at its next cron fire time; a leader's restart
keeps that due time (even one long past, so a schedule that missed times
ticks once, at once); a changed cron moves it; the claimed tick carries the
fire time as its due time, which the worker reads as the scheduled time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

import lookout as dg
from lookout import Settings
from lookout.scheduler import Scheduler
from lookout.testing import Repositories, tick_runner
from tests.test_scheduler import Clock, lead, queued_batches

# 2026-01-05 10:00:30 UTC, half a minute past a whole minute.
NOW = 1767607230.0
TEN_PAST = NOW - 30 + 600


@dg.op
def sound_horn() -> None: ...


@dg.job
def horn_job() -> None:
    sound_horn()


def make_schedule(cron: str = "*/10 * * * *", running: bool = True) -> dg.ScheduleDefinition:
    status = dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED
    return dg.ScheduleDefinition(
        name="horn", cron_schedule=cron, job=horn_job, default_status=status
    )


MakeScheduler = Callable[[dg.ScheduleDefinition, Clock], Scheduler]


@pytest.fixture
def scheduler(settings: Settings, storage: Repositories) -> Iterator[MakeScheduler]:
    made: list[Scheduler] = []

    def build(schedule: dg.ScheduleDefinition, clock: Clock) -> Scheduler:
        defs = dg.Definitions(schedules=[schedule])
        s = Scheduler.on(defs, replace(settings), storage, clock=clock)
        made.append(s)
        return s

    yield build
    for s in made:
        s.publisher.close()


def test_a_running_schedule_is_due_at_its_next_fire_time_and_published_then(
    scheduler: MakeScheduler, storage: Repositories, settings: Settings
) -> None:
    clock = Clock(NOW)
    s = scheduler(make_schedule(), clock)
    assert lead(s) == 1
    assert storage.schedule.due_times(["horn"]) == [TEN_PAST]
    s.publish_due(clock.now)
    assert queued_batches(storage, settings) == []
    clock.now = TEN_PAST
    s.publish_due(clock.now)
    ((tick,),) = queued_batches(storage, settings)
    assert (tick["sensor"], tick["due_at"]) == ("horn", TEN_PAST)
    # The worker's commit makes it due at the next fire time after the scheduled one.
    runner = tick_runner(s.definitions, storage, settings, clock=clock)
    record = runner.tick("horn", tick_id=tick["tick_id"], due_at=tick["due_at"])
    assert record is not None and record.status == "SUCCESS"
    assert storage.schedule.due_times(["horn"]) == [TEN_PAST + 600]


def test_a_stopped_schedule_is_not_due(scheduler: MakeScheduler, storage: Repositories) -> None:
    s = scheduler(make_schedule(running=False), Clock(NOW))
    assert lead(s) == 0
    assert storage.schedule.due_times(["horn"]) == [None]


def test_a_new_leader_keeps_a_past_due_time_and_a_new_cron_moves_it(
    scheduler: MakeScheduler, storage: Repositories
) -> None:
    first = scheduler(make_schedule(), Clock(NOW))
    lead(first)
    first.lock.release()
    # Down for an hour: the due time stays, so the schedule ticks once at once.
    later = scheduler(make_schedule(), Clock(NOW + 3600))
    assert lead(later) == 0
    assert storage.schedule.due_times(["horn"]) == [TEN_PAST]
    later.lock.release()
    # A deploy with another cron: due at the new cron's next fire time.
    changed = scheduler(make_schedule("0 * * * *"), Clock(NOW + 3600))
    lead(changed)
    assert storage.schedule.due_times(["horn"]) == [NOW - 30 + 7200]
