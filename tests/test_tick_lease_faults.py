"""The tick lease under faults between its steps: a lost commit reply, a leader that
claims and never publishes, a publish that fails after an operator stopped the sensor.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import kombu.exceptions
import pytest
import redis

import lookout as dg
from lookout import Settings
from lookout.scheduler import Scheduler
from lookout.testing import Keys, Repositories, load_definitions, redis_client, tick_runner
from lookout.workers.app import make_celery
from tests.locations.sched_proxy import RedisProxy
from tests.test_scheduler import lead, make_sensor


@pytest.fixture
def proxied(settings: Settings, redis_url: str) -> Iterator[tuple[RedisProxy, Repositories]]:
    upstream = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs["port"]
    with RedisProxy(upstream) as proxy:
        remote = Repositories.on(redis_client(proxy.url), Keys(settings.key_prefix))
        remote.client.ping()
        yield proxy, remote
        remote.client.close()


def test_a_commit_whose_reply_was_lost_still_reads_as_committed(
    storage: Repositories, settings: Settings, proxied: tuple[RedisProxy, Repositories]
) -> None:
    proxy, remote = proxied
    runner = tick_runner(load_definitions(module="tests.locations.core_sensors"), remote, settings)
    assert remote.ticks.claim("keyed_a", "t-1", 60) == "t-1"
    assert remote.ticks.begin([("keyed_a", "t-1")], "me", 60) == [""]
    sensor = runner.definitions.get_sensor("keyed_a")
    commit = runner.evaluate(sensor, remote.sensors.state("keyed_a"), tick_id="t-1", due_at=None)
    commit = replace(commit, holder="me")
    proxy.lose_next_reply.set()
    # Redis commits; the reply is lost; redis-py sends the commit again.
    record = remote.ticks.commit(commit)
    assert proxy.lost == 1
    assert record is not None and record.tick_id == "t-1" and record.status == "SUCCESS"
    assert [t.tick_id for t in storage.ticks.history("keyed_a")] == ["t-1"]
    assert len(storage.launches.requests()) == 1


def test_ticks_claimed_and_never_published_are_given_back_without_a_record(
    storage: Repositories, settings: Settings
) -> None:
    names = ["p0", "p1", "p2"]
    s = Scheduler.on(
        dg.Definitions(sensors=[make_sensor(n) for n in names]),
        replace(settings, leader_ttl=60.0),
        storage,
    )
    try:
        lead(s)
        # The leader claims, then dies (or Redis fails) before it publishes.
        first = storage.ticks.claim_due(
            s.lock.token, time.time(), limit=10, ttl=60, tick_prefix="r1", publish_within=0.2
        )
        assert first is not None and len(first.ticks) == 3
        time.sleep(0.3)
        again = storage.ticks.claim_due(
            s.lock.token, time.time(), limit=10, ttl=60, tick_prefix="r2", publish_within=5
        )
    finally:
        s.publisher.close()
    assert again is not None and again.requeued == 0
    # Due again at once, claimed again with new ticks, and no FAILURE: nothing ran.
    assert sorted(t.sensor for t in again.ticks) == names
    assert not {t.tick_id for t in again.ticks} & {t.tick_id for t in first.ticks}
    assert all(storage.ticks.history(n) == [] for n in names)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_sensor_stopped_while_its_tick_could_not_be_published_gets_no_tick(
    storage: Repositories, settings: Settings
) -> None:
    down = make_celery(replace(settings, redis_url=f"redis://127.0.0.1:{closed_port()}/0"))
    s = Scheduler.on(
        dg.Definitions(sensors=[make_sensor("halted")]),
        replace(settings, leader_ttl=60.0),
        storage,
        app=down,
    )
    try:
        lead(s)
        # The operator's stop lands between the leader's claim and its publish:
        # the claim does not read the status, so set it as the stop does then.
        storage.client.hset(storage.keys.sensor("halted"), "status", "STOPPED")
        with pytest.raises(kombu.exceptions.OperationalError):
            s.publish_due(time.time())
    finally:
        s.publisher.close()
    assert s.stats.given_back == 1
    assert storage.sensors.state("halted").inflight is None
    # Not due again, and not marked as triggered: no more ticks for a stopped sensor.
    assert storage.schedule.due_times(["halted"]) == [None]
    assert storage.client.hget(storage.keys.sensor("halted"), "trigger") is None


def test_a_held_lease_that_lapses_is_expired_by_the_sweep_naming_its_holder(
    storage: Repositories, settings: Settings
) -> None:
    s = Scheduler.on(
        dg.Definitions(sensors=[make_sensor("gone")]), replace(settings, leader_ttl=60.0), storage
    )
    try:
        lead(s)
        first = storage.ticks.claim_due(
            s.lock.token, time.time(), limit=10, ttl=60, tick_prefix="r1"
        )
        assert first is not None
        [tick] = first.ticks
        storage.ticks.publish(first.claimed, 60)
        # A worker begins it, then stops renewing (killed with its whole host).
        assert storage.ticks.begin([("gone", tick.tick_id)], "host-x:7:job", 0.1) == [""]
        time.sleep(0.2)
        swept = storage.ticks.claim_due(
            s.lock.token, time.time(), limit=10, ttl=60, tick_prefix="r2"
        )
    finally:
        s.publisher.close()
    assert swept is not None and swept.requeued == 1
    [lost] = storage.ticks.history("gone")
    assert lost.tick_id == tick.tick_id and lost.status == "FAILURE"
    assert "its lease lapsed" in (lost.error or "") and "host-x:7:job" in (lost.error or "")
    assert lost.worker == "host-x:7:job"
    # Its late commit is refused: the lease is gone.
    assert storage.ticks.renew([("gone", tick.tick_id)], "host-x:7:job", 60) == [False]
