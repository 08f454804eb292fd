"""What the operator sees of the schedule: the sensor list and a tick in flight."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import redis

import lookout as dg
from lookout import Settings
from lookout._tools.operator import list_sensors, tick_history
from lookout.scheduler import Scheduler
from lookout.testing import Keys, Repositories, redis_client, tick_runner
from tests.locations.sched_proxy import RedisProxy


def at(when: float) -> Any:
    """A time to the millisecond (pytest.approx's default tolerance is relative: minutes)."""
    return pytest.approx(when, abs=1e-3)


def make_sensor(name: str, running: bool = True) -> dg.SensorDefinition[Any, Any]:
    status = dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED

    def fn() -> dg.SkipReason:
        return dg.SkipReason("nothing new")

    return dg.sensor(name=name, minimum_interval_seconds=30, default_status=status)(fn)


def test_a_tick_in_flight_shows_as_started_at_its_claim_not_at_the_time_of_asking(
    settings: Settings, storage: Repositories
) -> None:
    defs = dg.Definitions(sensors=[make_sensor("queued"), make_sensor("by_hand")])
    claimed_at = time.time() - 120  # claimed two minutes ago, still queued
    scheduler = Scheduler.on(defs, settings, storage, clock=lambda: claimed_at)
    try:
        assert scheduler.lock.hold()
        scheduler.sync()
        claim = storage.ticks.claim_due(
            scheduler.lock.token, claimed_at, limit=10, ttl=600, tick_prefix=uuid.uuid4().hex
        )
        assert claim is not None
    finally:
        scheduler.publisher.close()
    [top] = tick_history(defs, storage.ticks, "queued", 10)
    assert top.status == "STARTED" and top.tick_id == storage.sensors.state("queued").inflight
    assert top.started_at == at(claimed_at)
    # A tick claimed by hand (``lookout sensor tick``) too.
    storage.ticks.release("by_hand", storage.sensors.state("by_hand").inflight or "")
    assert storage.ticks.claim("by_hand", "manual-tick", 540, claimed_at + 60)
    [top] = tick_history(defs, storage.ticks, "by_hand", 10)
    assert top.tick_id == "manual-tick" and top.started_at == at(claimed_at + 60)


def test_listing_sensors_reads_them_all_in_one_round_trip(
    settings: Settings, storage: Repositories, redis_url: str
) -> None:
    sensors = [make_sensor(f"s{i:02d}", running=i % 2 == 0) for i in range(30)]
    defs = dg.Definitions(sensors=sensors)
    runner = tick_runner(defs, storage, settings)
    for name in ("s00", "s01"):
        storage.sensors.sync(name, dg.DefaultSensorStatus.RUNNING, 30.0)
        assert runner.tick(name) is not None
    storage.ticks.claim("s02", "busy", 60, time.time())
    upstream = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs["port"]
    with RedisProxy(upstream) as proxy:
        remote = Repositories.on(redis_client(proxy.url), Keys(settings.key_prefix))
        try:
            remote.client.ping()
            before = proxy.turns
            rows = list_sensors(defs, remote.sensors)
            turns = proxy.turns - before
        finally:
            remote.client.close()
    assert turns == 1
    assert [r.name for r in rows] == [s.name for s in sensors]
    assert [r.status for r in rows[:4]] == ["RUNNING", "STOPPED", "RUNNING", "STOPPED"]
    assert rows[0].last_tick is not None and rows[0].last_tick.status == "SKIPPED"
    assert rows[1].last_tick is not None and rows[3].last_tick is None
    assert [r.in_flight for r in rows[:4]] == [False, False, True, False]
