"""Triggers (push instead of poll) on a real Redis: immediate, coalesced, within invariant 1."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import lookout as dg
from lookout import LookoutError, Settings
from lookout.scheduler import Scheduler, describe_trigger, trigger_sensor
from lookout.testing import Repositories, TickRunner, TriggerOutcome, tick_runner


class Clock:
    def __init__(self, now: float = 2_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def quiet(name: str, running: bool) -> dg.SensorDefinition[Any, Any]:
    status = dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED

    def fn() -> dg.SkipReason:
        return dg.SkipReason("nothing new")

    return dg.sensor(name=name, minimum_interval_seconds=30, default_status=status)(fn)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(
    settings: Settings, storage: Repositories, clock: Clock
) -> Iterator[tuple[Scheduler, TickRunner]]:
    defs = dg.Definitions(sensors=[quiet("manual", running=False), quiet("polled", running=True)])
    scheduler = Scheduler.on(defs, settings, storage, clock=clock)
    assert scheduler.lock.hold()  # only the leader syncs
    scheduler.sync()
    yield scheduler, tick_runner(defs, storage, settings, clock=clock)
    scheduler.publisher.close()


def claim(scheduler: Scheduler, clock: Clock) -> dict[str, str]:
    """One scheduling round; the claimed sensors and their tick ids."""
    assert scheduler.lock.hold()
    claimed = scheduler.ticks.claim_due(
        scheduler.lock.token, clock.now, limit=100, ttl=60, tick_prefix=uuid.uuid4().hex[:24]
    )
    assert claimed is not None
    return {t.sensor: t.tick_id for t in claimed.ticks}


def trigger_and_claim(scheduler: Scheduler, storage: Repositories, clock: Clock) -> str:
    """Trigger the STOPPED sensor 'manual' and claim the tick it asked for; its id."""
    trigger_sensor(storage.schedule, "manual", now=clock.now)
    return claim(scheduler, clock)["manual"]


def test_a_stopped_sensor_is_not_polled_but_ticks_once_when_triggered(
    world: tuple[Scheduler, TickRunner], storage: Repositories, clock: Clock
) -> None:
    scheduler, runner = world
    assert "manual" not in claim(scheduler, clock)
    result = trigger_sensor(storage.schedule, "manual", now=clock.now)
    assert result.outcome is TriggerOutcome.DUE and result.due_at == pytest.approx(clock.now)
    assert describe_trigger("manual", result, now=clock.now) == "sensor 'manual' is due now"
    assert storage.client.llen(storage.keys.wake) == 1  # the leader is woken
    # A restart's sync does not drop the triggered tick of a STOPPED sensor.
    scheduler.sync()
    ticks = claim(scheduler, clock)
    assert "manual" in ticks
    assert runner.tick("manual", tick_id=ticks["manual"]) is not None
    clock.now += 3600
    assert "manual" not in claim(scheduler, clock)  # still STOPPED: one tick only
    assert storage.sensors.state("manual").status is None


def test_triggers_during_a_tick_give_exactly_one_more_tick_after_it(
    world: tuple[Scheduler, TickRunner], storage: Repositories, clock: Clock
) -> None:
    scheduler, runner = world
    first = trigger_and_claim(scheduler, storage, clock)
    for _ in range(3):
        result = trigger_sensor(storage.schedule, "manual", now=clock.now)
        assert result.outcome is TriggerOutcome.IN_FLIGHT and result.tick_id == first
        assert "one more tick follows it" in describe_trigger("manual", result)
    assert storage.schedule.due_times(["manual"]) == [None]  # never a second tick at once
    assert "manual" not in claim(scheduler, clock)
    started = clock.now
    assert runner.tick("manual", tick_id=first) is not None
    clock.now += 29.9
    assert "manual" not in claim(scheduler, clock)  # right after it, within the interval
    clock.now = started + 30
    second = claim(scheduler, clock)
    assert "manual" in second and second["manual"] != first
    assert runner.tick("manual", tick_id=second["manual"]) is not None
    clock.now += 3600
    assert "manual" not in claim(scheduler, clock)  # the three triggers made one tick


def test_a_trigger_waits_for_the_minimum_interval_since_the_last_start(
    world: tuple[Scheduler, TickRunner], storage: Repositories, clock: Clock
) -> None:
    scheduler, runner = world
    ticks = claim(scheduler, clock)
    started = clock.now
    assert runner.tick("polled", tick_id=ticks["polled"]) is not None
    clock.now += 5
    result = trigger_sensor(storage.schedule, "polled", now=clock.now)
    assert result.outcome is TriggerOutcome.DUE
    assert result.due_at == pytest.approx(started + 30)
    assert describe_trigger("polled", result, now=clock.now).endswith(
        "due in 25.0 s (its minimum interval since the last tick)"
    )
    assert "polled" not in claim(scheduler, clock)
    # A trigger that comes after a tick in flight ends waits for the interval too.
    trigger_sensor(storage.schedule, "manual", now=clock.now)
    manual = claim(scheduler, clock)["manual"]
    manual_start = clock.now
    trigger_sensor(storage.schedule, "manual", now=clock.now)
    assert runner.tick("manual", tick_id=manual) is not None
    clock.now += 1
    assert "manual" not in claim(scheduler, clock)
    assert storage.schedule.due_times(["manual"]) == [pytest.approx(manual_start + 30)]
    clock.now = manual_start + 30
    assert "manual" in claim(scheduler, clock)


def test_a_trigger_never_delays_a_tick_already_due(
    world: tuple[Scheduler, TickRunner], storage: Repositories, clock: Clock
) -> None:
    scheduler, _ = world
    storage.client.zadd(storage.keys.due, {"polled": clock.now - 10})
    result = trigger_sensor(storage.schedule, "polled", now=clock.now)
    assert result.due_at == pytest.approx(clock.now - 10)
    assert "polled" in claim(scheduler, clock)


def test_triggering_an_unknown_sensor_is_an_error(storage: Repositories) -> None:
    with pytest.raises(LookoutError, match="no sensor named 'ghost'"):
        trigger_sensor(storage.schedule, "ghost")
    assert storage.client.llen(storage.keys.wake) == 0


def test_a_trigger_while_no_scheduler_runs_is_kept_until_one_leads(
    settings: Settings, storage: Repositories
) -> None:
    defs = dg.Definitions(sensors=[quiet("manual", running=False)])
    storage.sensors.sync("manual", dg.DefaultSensorStatus.STOPPED, 30.0)
    for _ in range(5):
        trigger_sensor(storage.schedule, "manual")
    assert storage.client.llen(storage.keys.wake) == 1  # wake-ups do not pile up
    scheduler = Scheduler.on(defs, settings, storage)
    try:
        scheduler.run_once()  # becomes the leader, syncs, claims
    finally:
        scheduler.publisher.close()
    assert scheduler.stats.ticks == 1
    assert storage.sensors.state("manual").inflight is not None


def test_a_stopped_sensors_triggered_tick_given_back_is_due_again_and_then_ticks_once(
    world: tuple[Scheduler, TickRunner], storage: Repositories, clock: Clock
) -> None:
    scheduler, runner = world
    first = trigger_and_claim(scheduler, storage, clock)
    # Not evaluated (its worker stopped first): the tick the trigger asked for is still owed.
    assert storage.ticks.give_back([("manual", first, None)], clock.now) == 1
    assert storage.schedule.due_times(["manual"]) == [pytest.approx(clock.now)]
    scheduler.sync()  # a restart's sync keeps it due too
    second = claim(scheduler, clock)["manual"]
    assert second != first
    assert runner.tick("manual", tick_id=second) is not None
    scheduler.sync()
    clock.now += 3600
    assert "manual" not in claim(scheduler, clock)  # the trigger's one tick, given
    assert [r.tick_id for r in storage.ticks.history("manual")] == [second]


def test_a_stopped_sensors_triggered_tick_never_published_is_claimed_again_once(
    world: tuple[Scheduler, TickRunner], storage: Repositories, clock: Clock
) -> None:
    scheduler, runner = world
    trigger_sensor(storage.schedule, "manual", now=clock.now)
    assert scheduler.lock.hold()
    lost = scheduler.ticks.claim_due(
        scheduler.lock.token, clock.now, limit=10, ttl=60, tick_prefix="a" * 24, publish_within=0.05
    )
    assert lost is not None
    lost_ids = {t.sensor: t.tick_id for t in lost.ticks}
    assert "manual" in lost_ids
    time.sleep(0.1)  # the leader died before it published: the claim's lease lapses
    again = claim(scheduler, clock)
    assert "manual" in again and again["manual"] != lost_ids["manual"]
    assert runner.tick("manual", tick_id=again["manual"]) is not None
    clock.now += 3600
    assert "manual" not in claim(scheduler, clock)
    assert storage.ticks.history("manual")[0].tick_id == again["manual"]


def test_a_triggered_tick_claimed_by_the_version_before_is_due_again_when_given_back(
    world: tuple[Scheduler, TickRunner], storage: Repositories, clock: Clock
) -> None:
    scheduler, _ = world
    tick = trigger_and_claim(scheduler, storage, clock)
    # A leader of the version before took the trigger's mark off at the claim and
    # marked the lease instead (a rolling deploy: this worker gives its tick back).
    hash_key = storage.keys.sensor("manual")
    storage.client.hdel(hash_key, "trigger")
    storage.client.hset(hash_key, "by_trigger", "1")
    assert storage.ticks.give_back([("manual", tick, None)], clock.now) == 1
    assert storage.schedule.due_times(["manual"]) == [pytest.approx(clock.now)]
    assert storage.client.hget(hash_key, "by_trigger") is None
