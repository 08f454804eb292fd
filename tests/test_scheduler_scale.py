"""Scheduling 100,000 registered sensors: a round costs what is due, not what is registered."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

import lookout as dg
from lookout import Settings
from lookout.scheduler import Scheduler
from lookout.testing import Repositories

SENSORS = 100_000
# Lease expiries and due times are written as text to the microsecond.
CLOCK_ROUNDING = 1e-5
# Commands that touch one sensor's state (its hash, or its entry in an index).
PER_SENSOR = ("hexists", "hset", "hdel", "hget", "hmget", "hgetall", "zadd", "zrem", "zscore")


@pytest.fixture(scope="module")
def fleet() -> dg.Definitions:
    def fn() -> dg.SkipReason:
        return dg.SkipReason("nothing new")

    make = dg.sensor
    running = dg.DefaultSensorStatus.RUNNING
    return dg.Definitions(
        sensors=[
            make(name=f"s{i:06d}", minimum_interval_seconds=1, default_status=running)(fn)
            for i in range(SENSORS)
        ]
    )


@pytest.fixture
def scheduler(
    fleet: dg.Definitions, settings: Settings, storage: Repositories
) -> Iterator[Scheduler]:
    # No worker takes the messages: the tick queue's bound would hold it back.
    s = Scheduler.on(fleet, replace(settings, tick_batch_size=100, tick_queue_limit=0), storage)
    started = time.perf_counter()
    assert s.lock.hold()  # only the leader syncs
    assert s.sync() == SENSORS
    print(f"\nsync of {SENSORS} sensors: {time.perf_counter() - started:.2f} s")
    yield s
    s.publisher.close()


def spread_due(storage: Repositories, times: dict[str, float]) -> None:
    pipe = storage.client.pipeline(transaction=False)
    names = list(times)
    for start in range(0, len(names), 10_000):
        pipe.zadd(storage.keys.due, {n: times[n] for n in names[start : start + 10_000]})
    pipe.execute()


def command_calls(storage: Repositories) -> dict[str, int]:
    stats: dict[str, Any] = storage.client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def test_a_round_reads_only_the_due_sensors_among_100k(
    scheduler: Scheduler, storage: Repositories, settings: Settings
) -> None:
    due = 1_000
    names = sorted(s.name for s in scheduler.definitions.sensors)
    spread_due(storage, {n: time.time() + 3600 for n in names})
    scheduler.run_once()  # becomes leader (and syncs again, as a new leader does)
    assert scheduler.lock.leading and scheduler.stats.ticks == 0
    spread_due(storage, {n: time.time() - 1 for n in names[:due]})
    storage.client.config_resetstat()
    started = time.perf_counter()
    scheduler.run_once()
    took = time.perf_counter() - started
    calls = command_calls(storage)
    assert scheduler.stats.ticks == due and scheduler.stats.messages == 10
    assert storage.client.zcard(storage.keys.inflight) == due
    touched = {c: calls.get(c, 0) for c in PER_SENSOR}
    print(f"round of {due} due among {SENSORS}: {took * 1000:.1f} ms, commands {touched}")
    # One mark per claimed sensor, no read of its hash (in flight is read from
    # the leases' set, a ZMSCORE per 1,000); the round's index changes a call
    # each per 1,000 ticks (out of the due index, the leases' expiries), the
    # round into the claimed set once, and publishing it three (the expiries,
    # the round out, its expiry into the published set); the leases' set, new,
    # is opened as a skiplist by a placeholder added and taken out; nothing for
    # the 99,000 that are not due.
    assert touched["hset"] == due and touched["hmget"] == 0
    assert calls.get("zmscore", 0) == 1
    assert touched["zadd"] == 2 + 1 + 1 + 1 and touched["zrem"] == 1 + 1 + 1
    assert touched["hexists"] + touched["hget"] + touched["hgetall"] + touched["zscore"] == 0
    assert sum(touched.values()) <= due + 10
    assert took < 1.0


def test_1000_sensors_due_each_second_among_100k_are_published_on_time(
    scheduler: Scheduler, storage: Repositories
) -> None:
    per_second, seconds = 1_000, 3
    names = sorted(s.name for s in scheduler.definitions.sensors)
    wanted = per_second * seconds
    spread_due(storage, {n: time.time() + 3600 for n in names})
    thread = threading.Thread(target=scheduler.run)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while scheduler.stats.rounds == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # its first round as leader syncs the 100k sensors again
        redis_cpu = storage.client.info("cpu")
        cpu, wall = time.process_time(), time.perf_counter()
        now = time.time()
        times = {n: now + 0.2 + i / per_second for i, n in enumerate(names[:wanted])}
        spread_due(storage, times)
        storage.client.lpush(storage.keys.wake, "1")  # as a trigger would: it slept on
        deadline = time.monotonic() + seconds + 5
        while scheduler.stats.ticks < wanted and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
        thread.join(10)
    cpu_ms = (time.process_time() - cpu) * 1000
    after = storage.client.info("cpu")
    redis_ms = sum(after[k] - redis_cpu[k] for k in ("used_cpu_sys", "used_cpu_user")) * 1000
    assert scheduler.stats.ticks == wanted
    # The in-flight deadline is the claim time plus the ttl: how late each claim
    # was.  A round claims what comes due within the claim lead too (its
    # workers hold each tick until its due time), never sooner.
    ttl, lead = scheduler.settings.inflight_ttl, scheduler.settings.scheduler_claim_ahead
    deadlines = storage.ticks.inflight_deadlines(list(times))
    late = sorted(
        d - ttl - times[n] for n, d in zip(times, deadlines, strict=True) if d is not None
    )
    assert storage.client.zcard(storage.keys.inflight) == len(late) == wanted
    assert late[0] >= -lead - CLOCK_ROUNDING
    p99 = late[int(len(late) * 0.99)]
    print(
        f"{wanted} ticks over {time.perf_counter() - wall:.1f} s among {SENSORS}: "
        f"{scheduler.stats.messages} messages, claim lateness p99 {p99 * 1000:.1f} ms, "
        f"max {late[-1] * 1000:.1f} ms; scheduler CPU {cpu_ms / wanted:.3f} ms/tick, "
        f"Redis CPU {redis_ms / wanted:.3f} ms/tick"
    )
    assert p99 < 0.1
    assert cpu_ms / wanted < 0.5
