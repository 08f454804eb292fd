"""The scheduler in process, against a real Redis: what it claims, publishes and skips.

Published ticks are read back from the real Celery queue in Redis (no worker
runs here); ticks are evaluated and committed with the real ``TickRunner``.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import msgpack
import pytest

import lookout as dg
from lookout import Settings
from lookout.scheduler import Scheduler, batch_sizes
from lookout.scheduler._groups import MERGE_SLACK
from lookout.scheduler._loop import NO_WORKER_REFRESH
from lookout.testing import TICK_TASK, Heartbeat, Repositories, TickMessage, tick_runner
from lookout.workers.ticks import COLUMNS, ID_PREFIX, parse_batch, parse_tick


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_sensor(
    name: str, interval: float = 30, running: bool = True
) -> dg.SensorDefinition[Any, Any]:
    status = dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED

    def fn() -> dg.SkipReason:
        return dg.SkipReason("nothing new")

    return dg.sensor(name=name, minimum_interval_seconds=interval, default_status=status)(fn)


def queued_batches(storage: Repositories, settings: Settings) -> list[list[dict[str, Any]]]:
    """Every tick message waiting in the tick queue, as its list of ticks (oldest first)."""
    raw = storage.client.lrange(f"{settings.key_prefix}celery:{settings.tick_queue}", 0, -1)
    batches = []
    for message in reversed(raw):  # kombu LPUSHes, workers BRPOP
        envelope = json.loads(message)
        assert envelope["headers"]["task"] == TICK_TASK
        assert envelope["content-type"] == "application/x-msgpack"
        args, kwargs, _ = msgpack.unpackb(base64.b64decode(envelope["body"]), raw=False)
        assert kwargs == {} and len(args) == 1
        # Its ticks in columns, each id after the prefix they share.
        assert isinstance(args[0], dict) and set(args[0]) == set([*COLUMNS, ID_PREFIX])
        ticks = [parse_tick(item).to_wire() for item in parse_batch(args, kwargs)]
        # What Flower and the worker's log show of it, written by the scheduler.
        first = ticks[0]["sensor"]
        assert envelope["headers"]["argsrepr"] == f"[{len(ticks)} ticks: {first}, ...]"
        batches.append(ticks)
    return batches


def published(storage: Repositories, settings: Settings) -> list[str]:
    return [t["sensor"] for batch in queued_batches(storage, settings) for t in batch]


def lead(s: Scheduler) -> int:
    """Take the leader lock and sync (only the leader syncs); how many became due."""
    assert s.lock.hold()
    added = s.sync()
    assert added is not None
    return added


@pytest.fixture
def schedulers(settings: Settings, storage: Repositories) -> Iterator[Callable[..., Scheduler]]:
    made: list[Scheduler] = []

    def make(sensors: list[dg.SensorDefinition[Any, Any]], **kw: Any) -> Scheduler:
        clock = kw.pop("clock", time.time)
        # No worker takes the messages these tests publish: the tick queue's
        # bound would hold the scheduler back (test_tick_backpressure.py).
        kw.setdefault("tick_queue_limit", 0)
        # Rounds timed against due times, claimed once due (the lead's own
        # tests are below and in test_claim_ahead.py).
        kw.setdefault("scheduler_claim_ahead", 0)
        s = Scheduler.on(
            dg.Definitions(sensors=sensors),
            replace(settings, **kw),
            storage,
            clock=clock,
        )
        made.append(s)
        return s

    yield make
    for s in made:
        s.publisher.close()


def test_due_sensors_are_published_once_each_in_batches(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    running = [make_sensor(f"on{i}") for i in range(25)]
    stopped = [make_sensor(f"off{i}", running=False) for i in range(5)]
    s = schedulers(running + stopped, tick_batch_size=10)
    assert lead(s) == 25
    s.run_once()
    batches = queued_batches(storage, settings)
    assert [len(b) for b in batches] == [9, 8, 8]  # 3 messages, evenly shared
    names = [t["sensor"] for b in batches for t in b]
    assert sorted(names) == sorted(x.name for x in running)
    assert len({t["tick_id"] for b in batches for t in b}) == 25
    for tick in (t for b in batches for t in b):
        assert storage.sensors.state(tick["sensor"]).inflight == tick["tick_id"]
        assert TickMessage.from_wire(tick).to_wire() == tick  # a TickMessage's map, whole
    # In flight: a second round publishes nothing, and a restart's sync adds nothing.
    s.run_once()
    assert s.sync() == 0
    s.run_once()
    assert len(published(storage, settings)) == 25
    assert s.stats.ticks == 25 and s.stats.messages == 3


def test_batch_sizes_are_large_under_a_backlog_and_spread_over_the_workers_when_few_are_due() -> (
    None
):
    # Messages wait for the workers: as few messages as the cap allows, whatever the workers.
    assert batch_sizes(1000, cap=500, slots=2, backlog=True) == [500, 500]
    assert batch_sizes(1000, cap=500, slots=16, least=8, backlog=True) == [500, 500]
    assert batch_sizes(1200, cap=500, slots=16, backlog=True) == [400, 400, 400]
    # Not a backlog: one message per worker process, evaluated side by side ...
    assert batch_sizes(1000, cap=500, slots=16, least=8) == [63] * 8 + [62] * 8
    assert batch_sizes(7, cap=500, slots=3) == [3, 2, 2]
    # ... but none under the least size while more than that are due.
    assert batch_sizes(20, cap=500, slots=4, least=8) == [10, 10]
    assert batch_sizes(5, cap=500, slots=4, least=8) == [5]
    assert batch_sizes(2, cap=500, slots=4) == [1, 1]
    # The cap holds in every regime; nothing due, no message.
    assert batch_sizes(7, cap=3) == [3, 2, 2]
    assert batch_sizes(25, cap=10, slots=1, least=8) == [9, 8, 8]
    assert batch_sizes(9, cap=1, slots=2, least=8, backlog=True) == [1] * 9
    assert batch_sizes(0, cap=10, slots=4) == []


def test_sync_keeps_due_times_and_leaves_in_flight_and_stopped_sensors_out(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    clock = Clock()
    sensors = [make_sensor(n) for n in ("later", "busy", "fresh", "halted")]
    s = schedulers(sensors, clock=clock)
    storage.sensors.sync("later", dg.DefaultSensorStatus.RUNNING, 30.0)
    storage.client.zadd(storage.keys.due, {"later": clock.now + 20})
    assert storage.ticks.claim("busy", "t-busy", 60, clock.now) == "t-busy"
    storage.sensors.set_status("halted", dg.DefaultSensorStatus.STOPPED, clock.now)
    assert lead(s) == 1
    assert storage.schedule.due_times(["later", "busy", "fresh", "halted"]) == [
        clock.now + 20,
        None,
        clock.now,
        None,
    ]
    # A sensor Redis knows that this code no longer defines leaves the index.
    storage.sensors.sync("removed", dg.DefaultSensorStatus.RUNNING, 30.0)
    storage.client.zadd(storage.keys.due, {"removed": clock.now})
    s.sync()
    assert storage.schedule.due_times(["removed"]) == [None]
    assert storage.sensors.state("removed").default == "RUNNING"  # its state is kept


def test_a_claim_without_the_leader_lock_changes_nothing(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    s = schedulers([make_sensor("a")])
    lead(s)
    s.lock.release()
    assert (
        storage.ticks.claim_due("not-the-token", time.time(), limit=10, ttl=7, tick_prefix="x")
        is None
    )
    assert storage.leader.acquire("someone-else", 5.0)
    assert (
        storage.ticks.claim_due("not-the-token", time.time(), limit=10, ttl=7, tick_prefix="x")
        is None
    )
    assert storage.sensors.state("a").inflight is None
    assert storage.schedule.due_times(["a"])[0] is not None
    assert storage.client.zcard(storage.keys.inflight) == 0


def test_only_one_scheduler_leads_and_a_deposed_leader_cannot_publish(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    sensors = [make_sensor(f"s{i}") for i in range(3)]
    first = schedulers(sensors, leader_ttl=0.6, leader_renew=0.1)
    second = schedulers(sensors, leader_ttl=0.6, leader_renew=0.1)
    lead(first)
    first.run_once()
    second.run_once()
    assert first.lock.leading and not second.lock.leading
    assert storage.leader.token() == first.lock.token
    assert second.stats.ticks == 0 and first.stats.ticks == 3
    # The leader goes silent (paused, partitioned): its lock expires, the standby takes it.
    deadline = time.monotonic() + 5
    while not second.lock.leading and time.monotonic() < deadline:
        time.sleep(0.05)
        second.run_once()
    assert second.lock.leading and storage.leader.token() == second.lock.token
    # The old leader still believes it leads; its next claim is fenced off.
    storage.client.delete(storage.keys.inflight)
    storage.client.zadd(storage.keys.due, {"s0": time.time() - 1})
    storage.client.hdel(storage.keys.sensor("s0"), "inflight")
    assert first.lock.leading
    assert first.publish_due(time.time()) == 0
    assert not first.lock.leading
    assert published(storage, settings).count("s0") == 1
    # A clean release hands over at once.
    second.lock.release()
    first.lock._last_try = float("-inf")  # its next hold() retries now
    first.run_once()
    assert first.lock.leading
    assert published(storage, settings).count("s0") == 2


def test_a_tick_no_worker_took_up_in_time_is_ticked_again_without_a_record(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    clock = Clock()
    sensor = make_sensor("flaky", interval=30)
    # A lease is measured by Redis's clock, not the scheduler's: a short one.
    s = schedulers([sensor], clock=clock, tick_timeout=0.4, inflight_margin=0.3)
    lead(s)
    s.run_once()
    [stale] = queued_batches(storage, settings)[0]
    ttl = s.settings.inflight_ttl
    time.sleep(ttl + 0.2)
    clock.now += ttl + 1
    s.run_once()
    # Its message waited in the queue past its lease: the sensor was never
    # evaluated, so nothing of it failed; it is counted, and due again at once.
    assert s.stats.lapsed == 1 and s.stats.requeued == 0
    assert storage.metrics.sensor_counts().lapsed == 1
    assert storage.ticks.history("flaky") == []
    batches = queued_batches(storage, settings)
    assert len(batches) == 2
    [fresh] = batches[1]
    assert fresh["tick_id"] != stale["tick_id"]
    runner = tick_runner(dg.Definitions(sensors=[sensor]), storage, settings, clock=clock)
    # A worker takes the stale message late: its tick no longer holds the lease.
    assert runner.tick("flaky", tick_id=stale["tick_id"]) is None
    record = runner.tick("flaky", tick_id=fresh["tick_id"])
    assert record is not None and record.status == "SKIPPED"
    assert [t.tick_id for t in storage.ticks.history("flaky")] == [fresh["tick_id"]]


def test_the_next_tick_waits_for_the_interval_and_a_slow_one_pushes_it_back(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    clock = Clock()
    steps = iter([0.0, 0.2, 0.0, 12.0, 0.0])  # evaluation lengths of successive ticks
    seen = itertools.count()

    def fn() -> dg.SkipReason:
        clock.now += next(steps)
        # A reason of its own per tick: the history folds like skips into one record.
        return dg.SkipReason(f"nothing new ({next(seen)})")

    sensor = dg.sensor(
        name="paced", minimum_interval_seconds=10, default_status=dg.DefaultSensorStatus.RUNNING
    )(fn)
    s = schedulers([sensor], clock=clock)
    runner = tick_runner(dg.Definitions(sensors=[sensor]), storage, settings, clock=clock)
    lead(s)
    for _ in range(5):
        before = len(published(storage, settings))
        for _ in range(2000):  # a tick is at most 12 s of clock ahead: far fewer rounds
            pause = s.run_once()
            if len(published(storage, settings)) > before:
                break
            clock.now += pause or 0.01
        else:
            pytest.fail(f"no tick published by clock {clock.now}")
        tick = queued_batches(storage, settings)[-1][0]
        assert runner.tick("paced", tick_id=tick["tick_id"], due_at=tick["due_at"]) is not None
    ticks = list(reversed(storage.ticks.history("paced")))
    starts = [t.started_at for t in ticks]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # Never sooner than the interval, and not much later either.
    assert all(10 <= g < 10.1 for g in gaps[:3]), gaps
    # The fourth evaluation took 12 s: the fifth waited for its end, not 10 s.
    assert ticks[3].ended_at is not None
    assert ticks[4].started_at >= ticks[3].ended_at
    assert 12 <= gaps[3] < 12.1


def test_the_scheduler_sleeps_until_the_next_due_time_capped(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    clock = Clock()
    s = schedulers(
        [make_sensor("soon")], clock=clock, scheduler_max_sleep=1.0, scheduler_batch_wait=0
    )
    lead(s)
    storage.client.zadd(storage.keys.due, {"soon": clock.now + 0.25})
    assert s.run_once() == pytest.approx(0.25)
    storage.client.zadd(storage.keys.due, {"soon": clock.now + 60})
    assert 0.9 < s.run_once() <= 1.0  # capped (and by the next lock renewal)


def test_with_a_claim_lead_the_round_goes_that_much_early_and_claims_what_is_due_within_it(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    clock = Clock()
    s = schedulers(
        [make_sensor("soon"), make_sensor("later")],
        clock=clock,
        scheduler_max_sleep=1.0,
        scheduler_batch_wait=0,
        scheduler_claim_ahead=0.05,
    )
    lead(s)
    storage.client.zadd(storage.keys.due, {"soon": clock.now + 0.25, "later": clock.now + 0.4})
    assert s.run_once() == pytest.approx(0.2)
    clock.now += 0.2
    assert s.publish_due(clock.now) == 1  # "soon", due in 50 ms; "later" is not
    assert storage.client.zscore(storage.keys.due, "soon") is None
    assert storage.client.zscore(storage.keys.due, "later") is not None


def test_a_few_due_ticks_wait_a_little_for_enough_to_fill_a_message_for_each_worker(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    clock = Clock()
    sensors = [make_sensor(f"s{i}") for i in range(8)]
    # The batch wait alone (the merge wait is proved below).
    s = schedulers(
        sensors,
        clock=clock,
        scheduler_batch_wait=0.05,
        scheduler_merge_wait=0,
        tick_batch_gather=4,
    )
    lead(s)
    assert s._worker_slots() == 1  # no worker heartbeats: one process assumed
    spaced = {f"s{i}": clock.now + 0.1 + i * 0.01 for i in range(8)}
    storage.client.zadd(storage.keys.due, spaced)
    # The fourth comes due 30 ms after the first: the round waits for it.
    assert s.run_once() == pytest.approx(0.13)
    # Sparse: the first waits no longer than the batch wait past its due time.
    storage.client.zadd(storage.keys.due, {f"s{i}": clock.now + 0.1 + i for i in range(8)})
    assert s.run_once() == pytest.approx(0.15)
    # Overdue by more than the wait: the next round comes after the least pause.
    storage.client.zadd(storage.keys.due, {"s0": clock.now - 1})
    assert s.pace.idle_time(s.lock.seconds_to_renewal()) == pytest.approx(
        s.settings.scheduler_min_pause
    )


def four_process_worker(storage: Repositories, settings: Settings) -> Heartbeat:
    """A worker of 4 processes on the tick queue: its heartbeat is what the scheduler reads."""
    details = {"queues": settings.tick_queue, "concurrency": "4"}
    return Heartbeat(storage.processes, "worker", details=lambda: details)


def test_a_scheduler_started_before_its_workers_sees_their_processes_within_a_second(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    s = schedulers([make_sensor("s")])
    assert s._worker_slots() == 1  # no worker yet: one process assumed
    with four_process_worker(storage, settings):
        # Not the 5 s a count of live workers is kept: rounds sized for one
        # process would cut the groups a merge wait gathers.
        time.sleep(NO_WORKER_REFRESH)
        assert s._worker_slots() == 4


def make_due(storage: Repositories) -> Callable[[list[str]], None]:
    """What makes the named sensors due (a second ago)."""

    def due(part: list[str]) -> None:
        storage.client.zadd(storage.keys.due, dict.fromkeys(part, time.time() - 1))

    return due


def test_rounds_spread_over_idle_workers_and_go_out_whole_once_older_messages_wait(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    names = [f"s{i:02d}" for i in range(32)]
    s = schedulers([make_sensor(n) for n in names], tick_batch_min=4, tick_batch_size=100)
    due = make_due(storage)
    with four_process_worker(storage, settings):
        lead(s)
        storage.client.zadd(storage.keys.due, dict.fromkeys(names, time.time() + 3600))
        due(names[:16])
        s.run_once()
        # The queue was empty: one message for each of the 4 processes.
        assert [len(b) for b in queued_batches(storage, settings)] == [4, 4, 4, 4]
        # Right after that round the queue held only its own messages, which
        # no worker could have taken yet: not a sign of busy workers, so the
        # next round is spread too (none under the least size).
        due(names[16:24])
        s.run_once()
        assert [len(b) for b in queued_batches(storage, settings)] == [4, 4, 4, 4, 4, 4]
        # No worker took the first round's: older messages than its own wait
        # behind the second, so the third goes out as one message.
        due(names[24:])
        s.run_once()
        assert [len(b) for b in queued_batches(storage, settings)] == [4, 4, 4, 4, 4, 4, 8]
    assert sorted(published(storage, settings)) == names


def test_a_full_round_as_large_as_the_cap_goes_to_two_processes_unless_they_are_behind() -> None:
    # More are due behind the round: large messages, but two while some
    # process may be idle, so that one process does not get the round alone.
    assert batch_sizes(1000, cap=1000, slots=2, full=True) == [500, 500]
    assert batch_sizes(1000, cap=1000, slots=16, least=8, full=True) == [500, 500]
    assert batch_sizes(2000, cap=1000, slots=16, full=True) == [1000, 1000]
    assert batch_sizes(1000, cap=1000, slots=1, full=True) == [1000]
    assert batch_sizes(1, cap=1000, slots=2, full=True) == [1]
    # Every process busy with older messages: the round in as few as the cap allows.
    assert batch_sizes(1000, cap=1000, slots=2, full=True, backlog=True) == [1000]


def test_the_first_full_round_of_a_burst_is_split_for_idle_processes_and_the_next_goes_whole(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    names = [f"s{i:02d}" for i in range(24)]
    s = schedulers(
        [make_sensor(n) for n in names], schedule_limit=12, tick_batch_size=12, tick_batch_min=4
    )
    due = make_due(storage)
    with four_process_worker(storage, settings):
        lead(s)
        storage.client.zadd(storage.keys.due, dict.fromkeys(names, time.time() + 3600))
        due(names)
        # A full round after none, the queue empty: in two messages, not one
        # process's alone.
        s.run_once()
        assert [len(b) for b in queued_batches(storage, settings)] == [6, 6]
        # A full round right after a full one: the processes still hold the
        # last one's messages, so it goes out whole.
        s.run_once()
        assert [len(b) for b in queued_batches(storage, settings)] == [6, 6, 12]
    assert sorted(published(storage, settings)) == names


def test_a_round_held_back_by_the_queue_bound_does_not_make_the_next_full_round_a_burst(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    names = [f"s{i:02d}" for i in range(48)]
    s = schedulers(
        [make_sensor(n) for n in names],
        schedule_limit=12,
        tick_batch_size=12,
        tick_batch_min=4,
        tick_queue_limit=1,  # 4 messages for the 4 processes
    )
    due = make_due(storage)
    with four_process_worker(storage, settings):
        lead(s)
        storage.client.zadd(storage.keys.due, dict.fromkeys(names, time.time() + 3600))
        due(names)
        for _ in range(3):
            s.run_once()
        assert [len(b) for b in queued_batches(storage, settings)] == [6, 6, 12, 12]
        # The queue at its bound: nothing claimed; the workers are busy.
        s.run_once()
        assert s.held_back
        # The workers take every message: the queue is empty, but they are
        # still at work on the full rounds, so the next goes out whole.
        storage.client.delete(f"{settings.key_prefix}celery:{settings.tick_queue}")
        s.run_once()
        assert [len(b) for b in queued_batches(storage, settings)] == [12]


def test_rounds_stay_spread_while_fewer_older_messages_wait_than_worker_processes(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    names = [f"s{i:02d}" for i in range(24)]
    s = schedulers([make_sensor(n) for n in names], tick_batch_min=4, tick_batch_size=100)
    due = make_due(storage)
    with four_process_worker(storage, settings):
        lead(s)
        storage.client.zadd(storage.keys.due, dict.fromkeys(names, time.time() + 3600))
        due(names[:8])
        s.run_once()
        due(names[8:16])
        s.run_once()
        # Two older messages wait, for four processes: a worker at half load
        # looks so between rounds; the round is still spread, not sent whole.
        due(names[16:])
        s.run_once()
        assert [len(b) for b in queued_batches(storage, settings)] == [4] * 6
    assert sorted(published(storage, settings)) == names


# Rounds that gather 8 ticks a process, with a batch wait and a longer merge wait.
MERGING: dict[str, object] = {
    "scheduler_batch_wait": 0.05,
    "scheduler_merge_wait": 0.25,
    "tick_batch_gather": 8,
}


def twelve_due(
    schedulers: Callable[..., Scheduler], storage: Repositories, step: float, **settings: object
) -> tuple[Scheduler, Clock]:
    """A leading scheduler of twelve sensors, the first due in 100 ms, one every ``step`` s."""
    clock = Clock()
    s = schedulers([make_sensor(f"s{i}") for i in range(12)], clock=clock, **settings)
    lead(s)
    storage.client.zadd(storage.keys.due, {f"s{i}": clock.now + 0.1 + i * step for i in range(12)})
    return s, clock


def merging_leader(
    schedulers: Callable[..., Scheduler], names: list[str], **settings: object
) -> tuple[Scheduler, Clock]:
    """A leading scheduler of ``names`` whose rounds wait for groups (``MERGING``), on a
    clock the test moves.
    """
    clock = Clock()
    s = schedulers([make_sensor(n) for n in names], clock=clock, **{**MERGING, **settings})
    lead(s)
    return s, clock


def test_a_low_tick_rate_gathers_several_ticks_per_worker_process_into_a_round(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # The least message size stays 1 (a slow sensor delays no other): the
    # round gathers all the same.  One due every 5 ms: the round waits for
    # the eighth, 35 ms after the first.
    s, _ = twelve_due(
        schedulers,
        storage,
        0.005,
        scheduler_batch_wait=0.05,
        scheduler_merge_wait=0,
        tick_batch_min=1,
        tick_batch_gather=8,
    )
    assert s._worker_slots() == 1
    assert s.run_once() == pytest.approx(0.135)


def test_with_a_merge_wait_a_round_waits_for_the_tick_that_fills_it_and_its_group(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # One due every 20 ms: the eighth comes 140 ms after the first, past the
    # batch wait but within the merge wait: the round waits for it, and a
    # little more for the rest of its group.
    s, clock = twelve_due(schedulers, storage, 0.02, **MERGING)
    assert s.run_once() == pytest.approx(0.24 + MERGE_SLACK)
    # The first is due: a wake-up to renew the lock before the eighth claims nothing.
    clock.now += 0.15
    assert s.run_once() == pytest.approx(0.09 + MERGE_SLACK)
    assert s.stats.ticks == 0
    clock.now += 0.09 + MERGE_SLACK
    s.run_once()
    assert s.stats.ticks == 8
    # Too sparse to fill within the merge wait: the batch wait alone, as without one.
    storage.client.zadd(storage.keys.due, {f"s{i}": clock.now + 0.1 + i for i in range(12)})
    assert s.pace.idle_time(s.lock.seconds_to_renewal()) == pytest.approx(0.15)


def test_with_many_worker_processes_a_low_tick_rate_gathers_what_it_fills_in_the_merge_wait(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    # Four processes would make a round wait for 32 ticks (8 each), which 60
    # ticks a second bring in ~530 ms, past the 250 ms merge wait: rounds
    # would go every batch wait, a few ticks each, and no group would ever
    # form.  The round waits instead for what that rate fills within 80% of
    # the merge wait, 12 ticks: the last of twelve due 20 ms apart.
    earlier = [f"r{i:02d}" for i in range(60)]
    names = [f"s{i:02d}" for i in range(12)]
    with four_process_worker(storage, settings):
        # The leader lock renewed rarely: its renewal, on the real clock, would
        # cap the wait the test reads.
        s, clock = merging_leader(schedulers, earlier + names, leader_renew=5.0, leader_ttl=15.0)
        assert s._worker_slots() == 4
        first = dict.fromkeys(earlier, clock.now - 0.5) | dict.fromkeys(names, clock.now + 3600)
        storage.client.zadd(storage.keys.due, first)
        s.run_once()
        assert s.stats.ticks == 60  # a rate of 60 a second over the last second
        due = {n: clock.now + 0.1 + i * 0.02 for i, n in enumerate(names)}
        storage.client.zadd(storage.keys.due, due)
        assert s.pace.idle_time(s.lock.seconds_to_renewal()) == pytest.approx(0.32 + MERGE_SLACK)


def two_groups_due(
    storage: Repositories, names: list[str], now: float, first: float, second: float
) -> None:
    """The first half of ``names`` due ``first`` s after ``now``, the other half ``second``."""
    half = len(names) // 2
    due = dict.fromkeys(names[:half], now + first) | dict.fromkeys(names[half:], now + second)
    storage.client.zadd(storage.keys.due, due)


def eight_in_two_groups(
    schedulers: Callable[..., Scheduler], storage: Repositories, lead: float, **settings: object
) -> tuple[Scheduler, Clock, list[str]]:
    """A merging leader with claim ``lead`` of eight sensors: four due in 200 ms, four in 400."""
    names = [f"s{i}" for i in range(8)]
    s, clock = merging_leader(schedulers, names, scheduler_claim_ahead=lead, **settings)
    two_groups_due(storage, names, clock.now, 0.2, 0.4)
    return s, clock, names


def test_a_round_that_joins_a_later_group_goes_at_its_end_without_a_claim_lead_past_the_wait(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # Four due in 200 ms and four 200 ms after them: the eighth fills the
    # round past the batch wait (50 ms) and the claim lead (100 ms), within
    # the merge wait.  Claimed 100 ms ahead, the first four would start at
    # the claim and the others 100 ms later, past the batch wait of each
    # other, and come due apart again every interval; claimed at the second
    # group's end, all eight are due and start together.
    s, clock, names = eight_in_two_groups(schedulers, storage, 0.1)
    assert s.run_once() == pytest.approx(0.4 + MERGE_SLACK)
    clock.now += 0.4 + MERGE_SLACK
    s.run_once()
    assert s.stats.ticks == 8
    # The second group 80 ms after the first, within the batch wait and the
    # lead: the round goes a lead early, and each tick starts at its due time.
    storage.client.delete(f"{s.settings.key_prefix}celery:{s.settings.tick_queue}")
    two_groups_due(storage, names, clock.now, 0.2, 0.28)
    assert s.pace.idle_time(s.lock.seconds_to_renewal()) == pytest.approx(0.28 + MERGE_SLACK - 0.1)


def test_the_default_claim_lead_goes_early_even_to_join_groups(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    # The default lead (60 ms) with the default batch wait (50 ms) and its
    # slack: the two groups start 60 ms apart at most after the round, and
    # the next round takes both on time.
    lead = settings.scheduler_claim_ahead
    s, _, _ = eight_in_two_groups(schedulers, storage, lead)
    assert s.settings.scheduler_batch_wait == Settings.scheduler_batch_wait
    assert s.run_once() == pytest.approx(0.4 + MERGE_SLACK - lead)


@pytest.mark.parametrize(("batch_wait", "lead"), [(0.06, 0.07), (0.09, 0.1)])
def test_a_claim_lead_of_the_batch_wait_and_the_slack_goes_early_whatever_the_rounding(
    schedulers: Callable[..., Scheduler], storage: Repositories, batch_wait: float, lead: float
) -> None:
    # 0.06 + 0.01 and 0.09 + 0.01 come out just under 0.07 and 0.1 in
    # floating point: the lead is still the batch wait and its slack.
    s, _, _ = eight_in_two_groups(schedulers, storage, lead, scheduler_batch_wait=batch_wait)
    assert s.run_once() == pytest.approx(0.4 + MERGE_SLACK - lead)


def capped_leader(
    schedulers: Callable[..., Scheduler], count: int
) -> tuple[Scheduler, Clock, list[str]]:
    """A merging leader of ``count`` sensors that sleeps 300 ms at most (its lock
    renewed rarely: the renewal, on the real clock, would cap its sleep too).
    """
    names = [f"s{i}" for i in range(count)]
    s, clock = merging_leader(
        schedulers, names, scheduler_max_sleep=0.3, leader_renew=5.0, leader_ttl=15.0
    )
    return s, clock, names


def wake_capped(s: Scheduler, clock: Clock, late: float = 0.0) -> None:
    """Assert the leader's sleep is capped at 300 ms, and wake it then (``late`` s after)."""
    assert s.run_once() == pytest.approx(0.3)
    clock.now += 0.3 + late


def test_a_wake_up_capped_before_a_held_round_claims_nothing_of_its_group(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # Four due in 280 ms, past the merge wait (250 ms) from now, four more
    # 170 ms after them: the round waits for the eighth.  The leader sleeps
    # 300 ms at most, and wakes when the first four are within the claim lead:
    # claimed then, they went in a round of their own, trailed by the others
    # every interval (200 sensors on 1 s in three rounds a second, not two).
    s, clock, names = capped_leader(schedulers, 8)
    two_groups_due(storage, names, clock.now, 0.28, 0.45)
    lead = s.settings.scheduler_claim_ahead
    wake_capped(s, clock)
    assert s.run_once() == pytest.approx(0.45 + MERGE_SLACK - lead - 0.3)
    assert s.stats.ticks == 0
    clock.now += 0.45 + MERGE_SLACK - lead - 0.3
    s.run_once()
    assert s.stats.ticks == 8


def test_a_wake_up_a_little_late_claims_nothing_of_a_held_round_whose_head_it_finds_due(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # The head comes within the claim lead 5 ms after the capped wake-up's
    # time: the wake-up, late by 6 ms (its sleep's overshoot), finds it due.
    s, clock, names = capped_leader(schedulers, 8)
    lead = s.settings.scheduler_claim_ahead
    two_groups_due(storage, names, clock.now, 0.3 + lead + 0.005, 0.5)
    wake_capped(s, clock, late=0.006)
    s.run_once()
    assert s.stats.ticks == 0


def test_a_wake_up_capped_before_a_held_head_is_due_leaves_what_came_due_meanwhile_unheld(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # The head is due 400 ms past the capped wake-up: nothing is held then,
    # and a tick given back meanwhile (due at once) goes at that wake-up.
    s, clock, names = capped_leader(schedulers, 9)
    two_groups_due(storage, names[:8], clock.now, 0.7, 0.85)
    storage.client.zadd(storage.keys.due, {names[8]: clock.now + 3600})
    wake_capped(s, clock)
    storage.client.zadd(storage.keys.due, {names[8]: clock.now})
    s.run_once()
    assert s.stats.ticks == 1


def test_a_group_spread_past_the_slack_goes_in_one_round_not_its_tail_with_the_next(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # Twelve due 4 ms apart (a group whose ticks began one after another),
    # eight more 150 ms after its last.  The eighth fills the round; the four
    # after it are closer than the slack each: they go with it, rather than
    # wait ~150 ms for the next group.
    names = [f"s{i:02d}" for i in range(20)]
    s, clock = merging_leader(schedulers, names)
    group = {n: clock.now + 0.1 + i * 0.004 for i, n in enumerate(names[:12])}
    later = dict.fromkeys(names[12:], clock.now + 0.294)
    storage.client.zadd(storage.keys.due, group | later)
    assert s.run_once() == pytest.approx(0.144 + MERGE_SLACK)
    clock.now += 0.144 + MERGE_SLACK
    s.run_once()
    assert s.stats.ticks == 12
    # The next group goes when it is due (140 ms after the round), and the slack.
    assert s.pace.idle_time(s.lock.seconds_to_renewal()) == pytest.approx(0.14 + MERGE_SLACK)


def round_with_three_behind(
    schedulers: Callable[..., Scheduler], storage: Repositories, first: int
) -> Scheduler:
    """``first`` sensors due in 100 ms and three 53-57 ms after them (3 ms past the
    batch wait): asserts the round waits for the three and takes all in one message.
    """
    names = [f"s{i:02d}" for i in range(first + 3)]
    s, clock = merging_leader(schedulers, names)
    due = dict.fromkeys(names[:first], clock.now + 0.1)
    due |= {n: clock.now + 0.153 + i * 0.002 for i, n in enumerate(names[first:])}
    storage.client.zadd(storage.keys.due, due)
    assert s.run_once() == pytest.approx(0.157 + MERGE_SLACK)
    clock.now += 0.157 + MERGE_SLACK
    s.run_once()
    assert s.stats.messages == 1
    return s


def test_a_group_due_just_after_the_batch_wait_goes_with_the_round_it_would_trail(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # Three due at once and three more 53 ms later, too few to fill a round of
    # eight within the merge wait: the round goes after the batch wait, 50 ms.
    # Cut there, the three behind it went 3 ms later in a round of their own,
    # began together, and were due apart from the first three from then on:
    # a chain of small rounds (and messages) every interval, at twice the CPU
    # per tick of 200 sensors at 1 s (bench/RESULTS.md, Round 10).
    assert round_with_three_behind(schedulers, storage, 3).stats.ticks == 6


def test_a_filled_round_also_takes_the_group_due_just_after_its_batch_wait(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # Eight due at once fill the round; three more come 53 ms later.  The
    # round goes after them, not at once: sent on their own 53 ms after it,
    # they would trail it as a round of their own every interval.
    assert round_with_three_behind(schedulers, storage, 8).stats.ticks == 11


def test_a_group_due_later_than_the_slack_after_the_batch_wait_waits_for_its_own_round(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # The three behind come 15 ms after the batch wait, past the slack: the
    # first three do not wait for them, their round goes after the batch wait.
    names = [f"s{i}" for i in range(6)]
    s, clock = merging_leader(schedulers, names)
    first = dict.fromkeys(names[:3], clock.now + 0.1)
    behind = dict.fromkeys(names[3:], clock.now + 0.15 + MERGE_SLACK + 0.005)
    storage.client.zadd(storage.keys.due, first | behind)
    assert s.run_once() == pytest.approx(0.15)
    clock.now += 0.15
    s.run_once()
    assert s.stats.ticks == 3


def test_at_a_tick_rate_that_fills_rounds_a_tick_before_a_gap_is_not_held_for_a_group(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # 170 ticks claimed in the last second: rounds of eight fill within the
    # batch wait at that rate (160 a second), and no group needs to form.
    names = [f"s{i:03d}" for i in range(180)]
    s, clock = merging_leader(schedulers, names)
    due = dict.fromkeys(names[:170], clock.now - 0.5)
    # One left before a gap (begun late, say), the next group 200 ms behind it.
    due[names[170]] = clock.now + 0.1
    due |= dict.fromkeys(names[171:], clock.now + 0.3)
    storage.client.zadd(storage.keys.due, due)
    s.run_once()
    assert s.stats.ticks == 170
    # Workers took the messages (else the next rounds go as for workers behind).
    storage.client.delete(f"{s.settings.key_prefix}celery:{s.settings.tick_queue}")
    # The eighth after it is within the merge wait: it would start 200 ms
    # late with that group; it waits the batch wait at most.
    assert s.run_once() == pytest.approx(0.15)
    # A second later the rate is low again: rounds gather with the merge wait.
    clock.now += 1.0
    due = dict.fromkeys(names, clock.now + 3600)
    due |= {n: clock.now + 0.1 + i * 0.02 for i, n in enumerate(names[:12])}
    storage.client.zadd(storage.keys.due, due)
    assert s.run_once() == pytest.approx(0.24 + MERGE_SLACK)


def test_with_jitter_a_round_waits_no_longer_than_the_batch_wait(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # Jitter spreads each sensor's ticks afresh: a group would not hold.
    s, _ = twelve_due(schedulers, storage, 0.02, **MERGING, sensor_jitter=0.1)
    assert s.run_once() == pytest.approx(0.15)


def test_a_trigger_wakes_the_leader_before_its_sleep_ends(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    from lookout.scheduler import trigger_sensor

    sensor = make_sensor("pushed", interval=1, running=False)
    s = schedulers([sensor], scheduler_max_sleep=5.0)
    thread = threading.Thread(target=s.run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not s.lock.leading and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # the leader is now asleep for up to 5 s
        asked = time.monotonic()
        trigger_sensor(storage.schedule, "pushed")
        while not published(storage, settings) and time.monotonic() < asked + 5:
            time.sleep(0.005)
        assert published(storage, settings) == ["pushed"]
        assert time.monotonic() - asked < 0.5
    finally:
        s.stop()
        thread.join(10)
    assert not thread.is_alive()
    assert storage.leader.token() is None  # released on the way out


def test_a_new_leader_schedules_the_sensors_its_code_defines_after_a_rolling_deploy(
    schedulers: Callable[..., Scheduler], storage: Repositories, settings: Settings
) -> None:
    old = schedulers([make_sensor("kept")], leader_ttl=0.6, leader_renew=0.1)
    new = schedulers([make_sensor("kept"), make_sensor("added")], leader_ttl=0.6, leader_renew=0.1)
    lead(old)
    old.run_once()
    assert old.lock.leading
    assert new.sync() is None  # a new replica stands by: it records nothing while old leads
    storage.client.zadd(storage.keys.due, {"added": time.time() - 1})
    old.run_once()
    assert old.stats.parked == 1  # the old code does not know it: not ticked
    assert storage.schedule.due_times(["added"]) == [None]
    old.lock.release()  # the old leader is stopped
    new.lock._last_try = float("-inf")
    new.run_once()
    assert new.lock.leading
    assert "added" in published(storage, settings)


def test_the_leaders_heartbeat_says_at_once_when_it_has_recorded_its_sensors(
    schedulers: Callable[..., Scheduler], storage: Repositories
) -> None:
    # Beats every minute: only the beat right after the sync can tell in time.
    s = schedulers([make_sensor("a")], heartbeat_interval=60.0)
    thread = threading.Thread(target=s.run)
    thread.start()

    def synced() -> bool:
        return any(
            p.role == "scheduler" and p.leader and p.details.get("synced") == "1"
            for p in storage.processes.heartbeats()
        )

    try:
        deadline = time.monotonic() + 5
        while not synced() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert synced()
        # Recorded: due, or already claimed by the first round after the sync.
        keys = storage.keys
        assert any(storage.client.zscore(k, "a") is not None for k in (keys.due, keys.inflight))
    finally:
        s.stop()
        thread.join(10)
