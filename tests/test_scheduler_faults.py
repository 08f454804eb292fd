"""The scheduler when things go wrong around it: a standby running other code,
a claiming round whose reply is lost, a broker that refuses the ticks.

Each runs against the test's real Redis (and, where a broker must fail, a
second real redis-server or a closed port as the Celery broker).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import kombu.exceptions
import pytest
import redis
from celery.signals import after_task_publish

import lookout as dg
from lookout import Settings
from lookout._core.storage import ClaimRound
from lookout.scheduler import Scheduler, TickPublisher
from lookout.testing import EmbeddedRedis, Keys, Repositories, redis_client
from lookout.workers.app import make_celery
from tests.conftest import text
from tests.locations.sched_proxy import RedisProxy
from tests.test_scheduler import lead, make_sensor, published

# A lock no one renews in these tests: whoever takes it keeps it throughout.
STEADY = {"leader_ttl": 60.0, "leader_renew": 1.0}


@pytest.fixture
def schedulers(settings: Settings, storage: Repositories) -> Iterator[Callable[..., Scheduler]]:
    made: list[Scheduler] = []

    def make(sensors: list[dg.SensorDefinition[Any, Any]], app: Any = None, **kw: Any) -> Scheduler:
        s = Scheduler.on(dg.Definitions(sensors=sensors), replace(settings, **kw), storage, app=app)
        made.append(s)
        return s

    yield make
    for s in made:
        s.publisher.close()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def claim_round(
    storage: Repositories, s: Scheduler, prefix: str, *, limit: int = 100, now: float | None = None
) -> ClaimRound | None:
    """One claiming round by ``s``'s token, its ticks named from ``prefix``."""
    at = time.time() if now is None else now
    return storage.ticks.claim_due(s.lock.token, at, limit=limit, ttl=60, tick_prefix=prefix)


def in_flight(storage: Repositories) -> list[str]:
    return sorted(text(raw) for raw in storage.client.zrange(storage.keys.inflight, 0, -1))


# -- a standby runs other code -------------------------------------------------


def test_a_standby_running_other_code_changes_nothing_in_the_schedule(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    new = schedulers([make_sensor("kept", interval=60), make_sensor("added")], **STEADY)
    old = schedulers([make_sensor("kept", interval=30)], **STEADY)  # the code before a deploy
    assert lead(new) == 2
    due = storage.schedule.due_times(["kept", "added"])
    assert None not in due
    # The older replica starts (its whole run(), as `lookout scheduler` does)
    # while the new code leads: it stands by and touches nothing.
    thread = threading.Thread(target=old.run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while old.heartbeat.started_at is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # several standby rounds
    finally:
        old.stop()
        thread.join(10)
    assert not thread.is_alive()
    assert not old.lock.leading and old.stats.rounds == 0
    assert storage.schedule.due_times(["kept", "added"]) == due
    assert storage.client.hget(storage.keys.sensor("kept"), "interval") == b"60.0"
    # Nor can it sync by hand: only the lock's holder records sensors.
    assert old.sync() is None
    assert (
        storage.schedule.sync_sensors(
            "not-the-token", [("x", dg.DefaultSensorStatus.RUNNING, 1.0)], 0
        )
        is None
    )
    assert storage.schedule.unschedule_unknown("not-the-token", {"kept"}) is None
    assert storage.schedule.due_times(["kept", "added", "x"]) == [*due, None]


def test_the_older_code_syncs_only_once_it_leads_and_then_parks_what_it_does_not_define(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    new = schedulers([make_sensor("kept"), make_sensor("added")], **STEADY)
    old = schedulers([make_sensor("kept")], **STEADY)
    lead(new)
    new.lock.release()  # the new leader is stopped (a rollback): the old code leads now
    old.run_once()
    assert old.lock.leading
    assert storage.schedule.due_times(["added"]) == [
        None
    ]  # not its sensor: left alone, unscheduled
    assert published(storage, settings) == ["kept"]


# -- a claiming round whose reply is lost ----------------------------------------


def test_a_claiming_round_sent_twice_claims_once_and_answers_the_same(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    s = schedulers([make_sensor(f"s{i}") for i in range(5)], **STEADY)
    lead(s)
    now = time.time()
    first = claim_round(storage, s, "round-1", now=now)
    again = claim_round(storage, s, "round-1", now=now + 1)
    assert first is not None and len(first.ticks) == 5
    assert again == first  # the same ticks, ids and due times: they are still published
    assert in_flight(storage) == [f"s{i}" for i in range(5)]
    for t in first.ticks:
        assert storage.sensors.state(t.sensor).inflight == t.tick_id
    # The next round is a new one: nothing is due, nothing more is claimed.
    later = claim_round(storage, s, "round-2", now=now + 2)
    assert later is not None and later.ticks == []


def test_a_large_round_holds_exactly_its_claims_in_the_leases_and_itself_in_the_claimed(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # Over 128 claims into an empty set: the script opens it with a placeholder
    # (a skiplist from the start) that must be gone when the round ends.
    s = schedulers([make_sensor(f"s{i:03d}") for i in range(300)], **STEADY)
    lead(s)
    first = claim_round(storage, s, "a", limit=200)
    assert first is not None and len(first.ticks) == 200
    names = sorted(t.sensor for t in first.ticks)
    assert in_flight(storage) == names
    # The round, not each tick, waits to be published: one member.
    assert [text(m) for m in storage.client.zrange(storage.keys.claimed, 0, -1)] == ["a"]
    # A set that exists already is added to as it is.
    second = claim_round(storage, s, "b", limit=200)
    assert second is not None and len(second.ticks) == 100
    assert in_flight(storage) == [f"s{i:03d}" for i in range(300)]
    assert sorted(text(m) for m in storage.client.zrange(storage.keys.claimed, 0, -1)) == [
        "a",
        "b",
    ]
    storage.ticks.publish(first.claimed, 60)
    assert [text(m) for m in storage.client.zrange(storage.keys.claimed, 0, -1)] == ["b"]


def test_a_small_round_leaves_the_leases_as_a_skiplist(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # Few claims (a low tick rate): Redis would keep the set a listpack, in
    # which every later ZADD of these ticks scans the list.  The round opens
    # it as a skiplist; the placeholder is gone when it ends.
    s = schedulers([make_sensor(f"s{i}") for i in range(6)], **STEADY)
    lead(s)
    first = claim_round(storage, s, "a", limit=4)
    assert first is not None and len(first.ticks) == 4
    assert storage.client.object("encoding", storage.keys.inflight) == b"skiplist"
    assert in_flight(storage) == ["s0", "s1", "s2", "s3"]
    # A set that is a listpack already (a tick claimed by hand made it) is
    # turned into a skiplist by the next round that claims.
    storage.client.delete(storage.keys.inflight)
    storage.client.zadd(storage.keys.inflight, {"s0": time.time() + 60})
    assert storage.client.object("encoding", storage.keys.inflight) == b"listpack"
    second = claim_round(storage, s, "b", limit=4)
    assert second is not None and [t.sensor for t in second.ticks] == ["s4", "s5"]
    assert storage.client.object("encoding", storage.keys.inflight) == b"skiplist"
    assert in_flight(storage) == ["s0", "s4", "s5"]


def test_a_round_never_published_leaves_the_claimed_once_its_ticks_lapsed_long_ago(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    s = schedulers([make_sensor(f"s{i}") for i in range(4)], **STEADY)
    lead(s)
    lost = storage.ticks.claim_due(
        s.lock.token, time.time(), limit=2, ttl=0.2, tick_prefix="lost", publish_within=0.1
    )
    assert lost is not None and len(lost.ticks) == 2
    time.sleep(0.4)  # its leases lapsed (0.1 s), and its reply's time (0.2 s) is over
    later = storage.ticks.claim_due(
        s.lock.token, time.time(), limit=10, ttl=60, tick_prefix="next", publish_within=10
    )
    assert later is not None
    # The sweep read the lost round (given back without a record, not counted as
    # lapsed in the queue), then the round left the set: only the new one waits.
    assert later.lapsed == 0 and later.requeued == 0
    assert [text(m) for m in storage.client.zrange(storage.keys.claimed, 0, -1)] == ["next"]
    assert sorted(t.sensor for t in later.ticks) == ["s0", "s1", "s2", "s3"]


def test_a_round_named_like_the_start_of_the_last_one_is_a_new_round(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # The round key is told from a repeat by its packed name: "round-1" is not "round-10".
    s = schedulers([make_sensor(f"s{i}") for i in range(3)], **STEADY)
    lead(s)
    now = time.time()
    first = claim_round(storage, s, "round-10", limit=2, now=now)
    second = claim_round(storage, s, "round-1", limit=2, now=now)
    assert first is not None and second is not None
    assert [t.sensor for t in first.ticks] == ["s0", "s1"]
    assert [t.sensor for t in second.ticks] == ["s2"]
    assert second.ticks[0].tick_id.startswith("round-1") and second.ticks[0].tick_id != (
        first.ticks[0].tick_id
    )


def test_a_lost_reply_to_a_claiming_round_still_gives_its_ticks_to_the_scheduler(
    schedulers: Callable[..., Scheduler],
    storage: Repositories,
    settings: Settings,
    redis_url: str,
) -> None:
    s = schedulers([make_sensor(f"s{i}") for i in range(5)], **STEADY)
    lead(s)
    upstream = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs["port"]
    with RedisProxy(upstream) as proxy:
        remote = Repositories.on(redis_client(proxy.url), Keys(settings.key_prefix))
        try:
            remote.client.ping()
            proxy.lose_next_reply.set()
            # Redis runs the round; its reply is lost; redis-py sends it again.
            claim = remote.ticks.claim_due(
                s.lock.token, time.time(), limit=100, ttl=60, tick_prefix="lossy-round"
            )
        finally:
            remote.client.close()
        assert proxy.lost == 1
    assert claim is not None
    assert sorted(t.sensor for t in claim.ticks) == [f"s{i}" for i in range(5)]
    for t in claim.ticks:
        assert storage.sensors.state(t.sensor).inflight == t.tick_id


# -- a broker that refuses the ticks ----------------------------------------------


def test_ticks_a_broker_never_got_are_given_back_and_published_once_it_answers(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    names = [f"s{i}" for i in range(7)]
    down = make_celery(replace(settings, redis_url=f"redis://127.0.0.1:{closed_port()}/0"))
    s = schedulers([make_sensor(n) for n in names], app=down, tick_batch_size=3, **STEADY)
    lead(s)
    due = storage.schedule.due_times(names)
    with pytest.raises(kombu.exceptions.OperationalError):
        s.run_once()
    # Nothing stays in flight to be reported lost later: all due as before.
    assert in_flight(storage) == []
    assert all(storage.sensors.state(n).inflight is None for n in names)
    assert storage.schedule.due_times(names) == due
    assert all(storage.ticks.history(n) == [] for n in names)
    assert s.stats.ticks == 0
    # The broker answers again: the same sensors are published, once each.
    s.publisher.close()
    s.publisher = TickPublisher(replace(settings, tick_batch_size=3))
    s.run_once()
    assert sorted(published(storage, settings)) == names
    assert in_flight(storage) == names


def test_a_broker_failing_mid_round_keeps_the_sent_ticks_and_gives_back_the_unsent(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    names = [f"s{i}" for i in range(6)]
    with EmbeddedRedis() as broker:
        on_broker = replace(settings, redis_url=broker.url)
        app = make_celery(on_broker)
        s = schedulers([make_sensor(n) for n in names], app=app, tick_batch_size=2, **STEADY)
        lead(s)
        due = dict(zip(names, storage.schedule.due_times(names), strict=True))
        queue = Repositories.on(redis_client(broker.url), Keys(settings.key_prefix))

        def refuse_writes_after_the_first(**_: Any) -> None:
            queue.client.config_set("maxmemory", "1")  # the broker's next write is refused

        after_task_publish.connect(refuse_writes_after_the_first, weak=False)
        try:
            with pytest.raises(kombu.exceptions.OperationalError):
                s.run_once()
        finally:
            after_task_publish.disconnect(refuse_writes_after_the_first)
            queue.client.config_set("maxmemory", "0")
        sent = published(queue, on_broker)
        queue.client.close()
    assert len(sent) == 2 and s.stats.messages == 1 and s.stats.ticks == 2
    # The message that failed may have arrived: its two ticks stay in flight
    # (until their deadline) rather than risk a second tick beside them.
    held = in_flight(storage)
    assert set(sent) <= set(held) and len(held) == 4
    given = sorted(set(names) - set(held))
    assert len(given) == 2 and s.stats.given_back == 2
    assert storage.schedule.due_times(given) == [due[n] for n in given]
    assert all(storage.sensors.state(n).inflight is None for n in given)
