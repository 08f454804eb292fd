"""The minimum interval holds on every path that makes a sensor due, not only on a commit.

A trigger, a leader's sync, a trigger waiting for a tick in flight, and an
operator's start all make a sensor due at its last start plus its interval at
the earliest: also for sensors whose history entries hold bytes (any cursor),
which Redis's Lua msgpack cannot read.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import lookout as dg
from lookout import Settings
from lookout.scheduler import Scheduler, trigger_sensor
from lookout.testing import Repositories, TickRunner, TriggerOutcome, tick_runner


def at(when: float) -> Any:
    """A time to the millisecond (pytest.approx's default tolerance is relative: minutes)."""
    return pytest.approx(when, abs=1e-3)


HOUR = 3600.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def with_cursor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    seen = (context.cursor or {}).get("seen", 0)
    context.update_cursor({"seen": seen + 1, "etag": b"\x00\xff\x10raw"})
    return dg.SkipReason("nothing new")


def plain() -> dg.SkipReason:
    return dg.SkipReason("nothing new")


def hourly(name: str, fn: Any, running: bool = True) -> dg.SensorDefinition[Any, Any]:
    status = dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED
    return dg.sensor(name=name, minimum_interval_seconds=int(HOUR), default_status=status)(fn)


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())  # near the wall clock, which the operator's commands read


@pytest.fixture
def world(
    settings: Settings, storage: Repositories, clock: Clock
) -> Iterator[tuple[Scheduler, TickRunner]]:
    defs = dg.Definitions(
        sensors=[
            hourly("cursored", with_cursor),
            hourly("manual", with_cursor, running=False),
            hourly("plain", plain),
        ]
    )
    scheduler = Scheduler.on(defs, settings, storage, clock=clock)
    assert scheduler.lock.hold()
    assert scheduler.sync() == 2  # the two RUNNING ones
    yield scheduler, tick_runner(defs, storage, settings, clock=clock)
    scheduler.publisher.close()


def claim(scheduler: Scheduler, clock: Clock) -> dict[str, str]:
    """One scheduling round at the clock's time: the claimed sensors and their tick ids."""
    claimed = scheduler.ticks.claim_due(
        scheduler.lock.token, clock.now, limit=100, ttl=60, tick_prefix=uuid.uuid4().hex[:24]
    )
    assert claimed is not None
    return {t.sensor: t.tick_id for t in claimed.ticks}


def tick(scheduler: Scheduler, runner: TickRunner, clock: Clock, name: str) -> float:
    """Claim and evaluate one tick of ``name`` now; returns its start."""
    ticks = claim(scheduler, clock)
    assert name in ticks, ticks
    record = runner.tick(name, tick_id=ticks[name])
    assert record is not None and record.status == "SKIPPED"
    return record.started_at


def test_a_trigger_keeps_the_interval_of_a_sensor_whose_cursor_holds_bytes(
    world: tuple[Scheduler, TickRunner], storage: Repositories, clock: Clock
) -> None:
    scheduler, runner = world
    started = tick(scheduler, runner, clock, "cursored")
    assert (
        storage.ticks.history("cursored")[0].cursor_after is not None
    )  # bytes in the history entry
    clock.now += 5
    result = trigger_sensor(storage.schedule, "cursored", now=clock.now)
    assert result.outcome is TriggerOutcome.DUE
    assert result.due_at == at(started + HOUR)
    assert "cursored" not in claim(scheduler, clock)
    clock.now = started + HOUR - 1
    assert "cursored" not in claim(scheduler, clock)
    clock.now = started + HOUR
    assert "cursored" in claim(scheduler, clock)


def test_a_leaders_sync_keeps_the_interval_of_a_sensor_with_a_cursor(
    world: tuple[Scheduler, TickRunner], storage: Repositories, clock: Clock
) -> None:
    scheduler, runner = world
    started = tick(scheduler, runner, clock, "cursored")
    # Out of the index (a rolling deploy's older leader parked it): the next
    # leader's sync puts it back, still an hour after its last start.
    storage.client.zrem(storage.keys.due, "cursored")
    clock.now += 10
    assert scheduler.sync() == 1
    assert storage.schedule.due_times(["cursored"]) == [at(started + HOUR)]
    assert "cursored" not in claim(scheduler, clock)


def test_a_trigger_that_waited_for_a_tick_in_flight_keeps_the_interval(
    world: tuple[Scheduler, TickRunner], storage: Repositories, clock: Clock
) -> None:
    scheduler, runner = world
    trigger_sensor(storage.schedule, "manual", now=clock.now)
    first = claim(scheduler, clock)["manual"]
    # Asked again while it runs: one more tick follows, an hour after this one's start.
    again = trigger_sensor(storage.schedule, "manual", now=clock.now)
    assert again.outcome is TriggerOutcome.IN_FLIGHT
    record = runner.tick("manual", tick_id=first)
    assert record is not None and record.cursor_after is not None
    clock.now += 1
    assert "manual" not in claim(scheduler, clock)  # promoted, not due yet
    assert storage.schedule.due_times(["manual"]) == [at(record.started_at + HOUR)]
    clock.now = record.started_at + HOUR
    assert "manual" in claim(scheduler, clock)


def test_stopping_and_starting_a_sensor_right_after_a_tick_does_not_tick_it_again(
    world: tuple[Scheduler, TickRunner], storage: Repositories, clock: Clock
) -> None:
    from lookout._tools.operator import set_sensor_status

    scheduler, runner = world
    ticks = claim(scheduler, clock)
    starts = {}
    for name in ("plain", "cursored"):
        record = runner.tick(name, tick_id=ticks[name])
        assert record is not None
        starts[name] = record.started_at
    for name, started in starts.items():
        clock.now += 2
        storage.sensors.set_status(name, dg.DefaultSensorStatus.STOPPED, due_at=clock.now)
        assert storage.schedule.due_times([name]) == [None]
        storage.sensors.set_status(name, dg.DefaultSensorStatus.RUNNING, due_at=clock.now)
        assert storage.schedule.due_times([name]) == [at(started + HOUR)]
        assert name not in claim(scheduler, clock)
    # The operator's command (CLI, status page) goes the same way.
    plain_due = storage.schedule.due_times(["plain"])[0]
    set_sensor_status(
        scheduler.definitions, storage.sensors, "plain", dg.DefaultSensorStatus.STOPPED
    )
    set_sensor_status(
        scheduler.definitions, storage.sensors, "plain", dg.DefaultSensorStatus.RUNNING
    )
    assert storage.schedule.due_times(["plain"]) == [plain_due]


def test_starting_a_sensor_that_never_ticked_makes_it_due_at_once(
    world: tuple[Scheduler, TickRunner], storage: Repositories, clock: Clock
) -> None:
    scheduler, _ = world
    storage.sensors.set_status("manual", dg.DefaultSensorStatus.RUNNING, due_at=clock.now)
    assert storage.schedule.due_times(["manual"]) == [at(clock.now)]
    first = claim(scheduler, clock)["manual"]
    # Started again while its tick is in flight: not due twice; its commit reschedules it.
    storage.sensors.set_status("manual", dg.DefaultSensorStatus.RUNNING, due_at=clock.now)
    assert storage.schedule.due_times(["manual"]) == [None]
    assert storage.sensors.state("manual").inflight == first
