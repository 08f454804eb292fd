"""A message's ticks taken up in one script call and each flush committed in one.

Against the real Redis: the batched scripts keep every tick atomic and at
most once on its own (invariant 2): a tick whose lease was lost in a flush
is refused while the others in it commit, and the same flush sent again
commits nothing twice.  A whole message costs two script calls, not three
round trips per tick.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest
import redis

from lookout import DefaultSensorStatus, Settings
from lookout._base.wire import TickRecord, TickStatus
from lookout._core.storage import TickCommit
from lookout._process.tick import TickRunner
from lookout.testing import Repositories, TickMessage, load_definitions, tick_runner
from lookout.workers.batch import TickBatch
from lookout.workers.keeper import LeaseKeeper
from tests.locations.work_support import claim_ticks, committed

LOCATION = "tests.locations.work_basic"
HOLDER = "host-a:1:job-1"
COUNTERS = ["counter", "counter_b", "counter_c"]


def evaluated(
    runner: TickRunner, storage: Repositories, ticks: Sequence[TickMessage], holder: str
) -> list[TickCommit]:
    """Take ``ticks`` up as ``holder`` and evaluate each: the commits of one flush."""
    taken = storage.ticks.take_up([(t.sensor, t.tick_id) for t in ticks], holder, 60).answers
    assert [answer for answer, _ in taken] == [""] * len(ticks)
    commits = []
    for tick, (_, state) in zip(ticks, taken, strict=True):
        assert state is not None
        sensor = runner.instigator(tick.sensor)
        commits.append(
            runner.evaluate(sensor, state, tick_id=tick.tick_id, due_at=None, holder=holder)
        )
    return commits


def a_flush(
    storage: Repositories, settings: Settings
) -> tuple[list[TickMessage], list[TickCommit]]:
    """The counters' ticks claimed, taken up by ``HOLDER`` and evaluated: one flush to commit."""
    runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
    ticks = claim_ticks(storage, settings, COUNTERS)
    return ticks, evaluated(runner, storage, ticks, HOLDER)


LEADER = "leader-1"


def leading_with(storage: Repositories, names: Sequence[str]) -> float:
    """Take the leader lock as ``LEADER`` and sync ``names`` as RUNNING 1 s sensors; now."""
    assert storage.leader.acquire(LEADER, 60)
    now = time.time()
    sensors = [(n, DefaultSensorStatus.RUNNING, 1.0) for n in names]
    assert storage.schedule.sync_sensors(LEADER, sensors, now) == len(names)
    return now


def launches(storage: Repositories) -> int:
    return int(storage.client.xlen(storage.keys.launch))


def test_a_flush_commits_its_other_ticks_when_one_of_them_lost_its_lease(
    storage: Repositories, settings: Settings
) -> None:
    ticks, commits = a_flush(storage, settings)
    # The middle tick's lease moves on (its holder was taken for dead) before the flush.
    lost = ticks[1]
    assert storage.ticks.give_back([(lost.sensor, lost.tick_id, None)], 0.0, holder=HOLDER) == 1
    assert storage.ticks.claim(lost.sensor, "the next tick", 60) == "the next tick"

    records = storage.ticks.commit_many(commits)

    assert [r is not None for r in records] == [True, False, True]
    assert [committed(storage, t) for t in ticks] == [True, False, True]
    assert storage.ticks.inflight_tick(lost.sensor) is not None  # the next tick's, untouched
    assert storage.client.hget(storage.keys.sensor(lost.sensor), "cursor") is None
    assert launches(storage) == 2


def test_a_flush_sent_again_after_its_sensors_committed_their_next_ticks_is_refused(
    storage: Repositories, settings: Settings
) -> None:
    # The holder's mark in last_commit is the same for both flushes: what
    # tells them apart is the tick at the head of each history.
    ticks, commits = a_flush(storage, settings)
    assert all(r is not None for r in storage.ticks.commit_many(commits))
    runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
    later = claim_ticks(storage, settings, COUNTERS)
    assert all(
        r is not None for r in storage.ticks.commit_many(evaluated(runner, storage, later, HOLDER))
    )
    histories = [storage.ticks.history(t.sensor) for t in ticks]

    assert storage.ticks.commit_many(commits) == [None] * len(commits)
    assert [storage.ticks.history(t.sensor) for t in ticks] == histories


def test_ticks_a_flush_committed_before_one_that_failed_stay_scheduled(
    storage: Repositories, settings: Settings
) -> None:
    ticks, commits = a_flush(storage, settings)
    for t in ticks:  # RUNNING by their code: each commit sets the next due time
        storage.sensors.sync(t.sensor, DefaultSensorStatus.RUNNING, 1.0)
    # The last tick's history key is of the wrong type: its commit fails part
    # way through the script, after the first two committed.
    storage.client.set(storage.keys.ticks(ticks[2].sensor), b"not a list")

    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        storage.ticks.commit_many(commits)

    done = [t.sensor for t in ticks[:2]]
    assert [committed(storage, t) for t in ticks[:2]] == [True, True]
    # Their leases' expiries gone and their next due times set, as the flush's
    # last writes would have done had it ended.
    assert storage.client.zmscore(storage.keys.inflight, done) == [None, None]
    assert all(d is not None for d in storage.schedule.due_times(done))
    # And counted, as the flush's last writes would have counted them.
    assert storage.metrics.counters().ticks == {(name, "SUCCESS"): 1 for name in done}


def test_a_flush_sent_again_commits_nothing_twice_and_answers_as_the_first_time(
    storage: Repositories, settings: Settings
) -> None:
    ticks, commits = a_flush(storage, settings)
    first = storage.ticks.commit_many(commits)
    histories = [len(storage.ticks.history(t.sensor)) for t in ticks]
    counters = storage.client.hgetall(storage.keys.counters)

    # Its reply lost, the flush is sent again (redis-py resends, or the message comes back).
    again = storage.ticks.commit_many(commits)

    assert all(r is not None for r in first)
    assert again == first
    assert [len(storage.ticks.history(t.sensor)) for t in ticks] == histories
    assert storage.client.hgetall(storage.keys.counters) == counters
    assert launches(storage) == 3


def test_a_flush_by_another_holder_of_the_same_ticks_is_refused_whole(
    storage: Repositories, settings: Settings
) -> None:
    _, commits = a_flush(storage, settings)
    assert all(r is not None for r in storage.ticks.commit_many(commits))
    impostor = [replace(c, holder="host-b:2:job-1") for c in commits]
    assert storage.ticks.commit_many(impostor) == [None, None, None]
    assert launches(storage) == 3


def test_taking_up_reads_each_held_sensors_state_and_leaves_the_others_alone(
    storage: Repositories, settings: Settings
) -> None:
    ticks = claim_ticks(storage, settings, COUNTERS)
    storage.sensors.set_cursor("counter", b"\xa27")
    other = storage.ticks.take_up(
        [(ticks[1].sensor, ticks[1].tick_id)], "host-b:1:job-9", 60
    ).answers
    assert other[0][0] == ""

    taken = storage.ticks.take_up(
        [(t.sensor, t.tick_id) for t in ticks] + [("counter_d", "no such tick")], HOLDER, 60
    ).answers

    assert [answer for answer, _ in taken] == ["", "host-b:1:job-9", "", "-"]
    first = taken[0][1]
    assert first is not None and first.cursor == b"\xa27" and first.inflight == ticks[0].tick_id
    assert taken[1][1] is None and taken[3][1] is None
    assert storage.ticks.holder("counter") == HOLDER
    assert storage.ticks.holder("counter_b") == "host-b:1:job-9"


def test_taking_up_reads_the_same_state_as_reading_each_sensor(
    storage: Repositories, settings: Settings
) -> None:
    # One sensor with a history, an empty cursor and an operator's status; one
    # with a cursor that is not text and a trigger payload; one with nothing.
    _, commits = a_flush(storage, settings)
    assert storage.ticks.commit_many(commits[:1]) != [None]
    for name, tick in [(c.record.sensor, c.record.tick_id) for c in commits[1:]]:
        assert storage.ticks.release(name, tick, HOLDER)
    storage.sensors.set_cursor("counter", b"")
    storage.sensors.set_status("counter", DefaultSensorStatus.STOPPED, time.time())
    storage.sensors.set_cursor("counter_b", b"\x00\xff cursor")
    storage.client.hset(storage.keys.sensor("counter_b"), "payload", b"\x92\x01\xc0")
    ticks = claim_ticks(storage, settings, COUNTERS)

    taken = storage.ticks.take_up([(t.sensor, t.tick_id) for t in ticks], HOLDER, 60).answers

    assert [answer for answer, _ in taken] == ["", "", ""]
    assert [state for _, state in taken] == storage.sensors.states(COUNTERS)
    first, second, third = (state for _, state in taken)
    assert first is not None and first.cursor == b"" and first.status == "STOPPED"
    assert first.last is not None and first.last.tick_id == commits[0].record.tick_id
    assert second is not None and second.cursor == b"\x00\xff cursor"
    assert second.payload == b"\x92\x01\xc0"
    assert third is not None and third.cursor is None and third.last_entry is None
    assert third.inflight == ticks[2].tick_id


def test_a_whole_message_costs_one_round_trip_to_take_up_and_one_per_flush(
    storage: Repositories, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Leases renewed only every 20 s: the keeper's thread stays out of the count.
    patient = replace(settings, inflight_margin=60.0)
    runner = tick_runner(load_definitions(module=LOCATION), storage, patient)
    names = [*COUNTERS, "counter_d"]

    def one_message() -> int:
        ticks = claim_ticks(storage, patient, names)
        keeper = LeaseKeeper(runner.ticks, patient)
        batch = TickBatch(runner, keeper, lambda *_: None, "job-1", flush_every=60)
        sent.clear()
        return batch.handle([[t.to_wire() for t in ticks]], {}).committed

    # Every request written to Redis, as the client's connections send them.
    sent: list[bytes] = []
    # redis-py leaves the method untyped: named as a plain callable here.
    send: Callable[..., None] = redis.connection.AbstractConnection.send_packed_command

    def counted(self: Any, command: Any, *args: Any, **kwargs: Any) -> None:
        sent.append(b"".join(command) if isinstance(command, list) else command)
        send(self, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    assert one_message() == 4  # the scripts are loaded now
    assert one_message() == 4
    # take_up, then the one flush: nothing is read or written per tick besides.
    assert len(sent) == 2
    assert all(b"EVALSHA" in request for request in sent)


def test_a_flush_mixing_a_failed_tick_with_committed_runs_gives_each_its_own_effects(
    storage: Repositories, settings: Settings
) -> None:
    # A flush sends what its ticks share once and each tick only what it has:
    # the failed tick's event stream key, the others' cursors and requests.
    _, commits = a_flush(storage, settings)
    failed_record = replace(commits[1].record, status=TickStatus.FAILURE.value, error="it broke")
    failed = replace(commits[1], record=failed_record, launches=[], store_cursor=False, cursor=None)

    records = storage.ticks.commit_many([commits[0], failed, commits[2]])

    assert [r.status if r else None for r in records] == ["SUCCESS", "FAILURE", "SUCCESS"]
    cursors = [storage.client.hget(storage.keys.sensor(n), "cursor") for n in COUNTERS]
    assert cursors == [commits[0].cursor, None, commits[2].cursor]
    assert launches(storage) == 2
    told = [e for _, e in storage.events.read("0", 10) if e.kind == "SENSOR_TICK_FAILURE"]
    assert [(e.sensor, e.message) for e in told] == [("counter_b", "it broke")]
    assert storage.client.zcard(storage.keys.inflight) == 0


def test_a_round_of_thousands_of_ticks_is_claimed_taken_up_and_committed_each_once(
    storage: Repositories, settings: Settings
) -> None:
    # The scripts write a round's index changes a call per 1,000 ticks: every
    # tick, across those chunks, is claimed, held and committed once.
    names = [f"s{i:05d}" for i in range(2500)]
    token, now = LEADER, leading_with(storage, names)
    round_ = storage.ticks.claim_due(token, now + 5, limit=5000, ttl=60, tick_prefix="r1-")
    assert round_ is not None and sorted(t.sensor for t in round_.ticks) == names
    assert storage.client.zcard(storage.keys.due) == 0
    assert storage.client.zrange(storage.keys.claimed, 0, -1) == [b"r1-"]  # the round, once
    assert storage.client.zcard(storage.keys.inflight) == len(names)

    refs = [(t.sensor, t.tick_id) for t in round_.ticks]
    taken = storage.ticks.take_up(refs, HOLDER, 60).answers
    assert [a for a, state in taken if state is not None] == [""] * len(names)
    assert storage.client.zcard(storage.keys.claimed) == 0
    expiries = storage.ticks.inflight_deadlines(names)
    assert all(e is not None and e > now + 30 for e in expiries)

    started = time.time()
    commits = [
        TickCommit(
            TickRecord(t.tick_id, t.sensor, TickStatus.SKIPPED.value, started, started),
            [],
            False,
            None,
            started + 1 + i,
            holder=HOLDER,
        )
        for i, t in enumerate(round_.ticks)
    ]
    assert all(r is not None for r in storage.ticks.commit_many(commits))
    assert storage.client.zcard(storage.keys.inflight) == 0
    next_due = {c.record.sensor: c.next_due for c in commits}
    assert storage.client.zcard(storage.keys.due) == len(names)
    assert storage.client.zmscore(storage.keys.due, names) == [next_due[n] for n in names]
    assert all(storage.ticks.inflight_tick(n) is None for n in names)


def flushed_alone(
    storage: Repositories, name: str, status: TickStatus, reason: str | None, **record: Any
) -> TickRecord | None:
    """One tick of ``name`` claimed, taken up and committed by a flush of its own."""
    tick_id = uuid.uuid4().hex
    assert storage.ticks.claim(name, tick_id, 60) == tick_id
    assert storage.ticks.take_up([(name, tick_id)], HOLDER, 60).answers[0][0] == ""
    started = time.time()
    launches = record.pop("launches", [])
    tick = TickRecord(
        tick_id, name, status.value, started, started + 0.001, skip_reason=reason, **record
    )
    (done,) = storage.ticks.commit_many(
        [TickCommit(tick, launches, False, None, None, holder=HOLDER)]
    )
    return done


def test_flushed_skips_with_one_reason_fold_into_one_record_and_others_start_their_own(
    storage: Repositories,
) -> None:
    for reason in ["quiet", "quiet", None, None, "busy", "quiet", "quiet", "quiet"]:
        assert flushed_alone(storage, "counter", TickStatus.SKIPPED, reason) is not None
    assert flushed_alone(storage, "counter", TickStatus.FAILURE, None, error="boom") is not None
    assert flushed_alone(storage, "counter", TickStatus.SKIPPED, "quiet") is not None
    history = storage.ticks.history("counter", 20)
    assert [(t.status, t.skip_reason, t.count) for t in history] == [
        ("SKIPPED", "quiet", 1),
        ("FAILURE", None, 1),
        ("SKIPPED", "quiet", 3),
        ("SKIPPED", "busy", 1),
        ("SKIPPED", None, 2),
        ("SKIPPED", "quiet", 2),
    ]


def test_flushed_ticks_count_by_status_with_their_requests_and_those_dropped(
    storage: Repositories,
) -> None:
    requests = [{"request_id": f"r{i}", "run_key": "same", "job_name": "job"} for i in range(3)]
    launches = [("same", b"launch-a"), ("same", b"launch-b"), ("same", b"launch-c")]
    for status in [TickStatus.SKIPPED, TickStatus.SKIPPED, TickStatus.FAILURE]:
        assert flushed_alone(storage, "counter", status, None) is not None
    ran = flushed_alone(
        storage, "counter", TickStatus.SUCCESS, None, requests=requests, launches=launches
    )
    assert ran is not None and ran.accepted == "100"
    again = flushed_alone(
        storage, "counter", TickStatus.SUCCESS, None, requests=requests[:1], launches=launches[:1]
    )
    assert again is not None and again.accepted == "0"
    assert flushed_alone(storage, "counter", TickStatus.SKIPPED, None) is not None
    counters = storage.metrics.counters()
    assert counters.ticks == {
        ("counter", "SKIPPED"): 3,
        ("counter", "FAILURE"): 1,
        ("counter", "SUCCESS"): 2,
    }
    assert counters.requests == {"counter": 4} and counters.dropped == {"counter": 3}
    # One field per sensor, its pairs in the order first counted.
    raw = storage.client.hget(storage.keys.counters, "s:counter")
    assert raw == b"K3 F1 S2 q4 d3"


def test_a_skip_folds_into_its_run_alike_whether_its_entry_is_spliced_or_unpacked(
    storage: Repositories,
) -> None:
    # A record of seven values gets its run spliced in, cursors after it or
    # not ("counter", "counter_b"); one with fields of its own (its logs) is
    # unpacked and packed again ("counter_c").  Each reads the same.
    firsts: dict[str, TickRecord] = {}
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("counter", {}),
        ("counter_b", {"cursor_after": b"\x01"}),
        ("counter_c", {"cursor_after": b"\x01", "logs": ["a line"]}),
    ]
    for _ in range(3):
        for name, record in kinds:
            done = flushed_alone(storage, name, TickStatus.SKIPPED, "quiet", **record)
            assert done is not None
            firsts.setdefault(name, done)
    for name, record in kinds:
        (head,) = storage.ticks.history(name, 20)
        first = firsts[name]
        assert (head.status, head.skip_reason, head.count) == ("SKIPPED", "quiet", 3)
        assert head.first_tick_id == first.tick_id != head.tick_id
        assert head.first_started_at == first.started_at
        assert head.cursor_after == record.get("cursor_after")
        assert head.logs == record.get("logs", [])


def test_taking_up_ticks_of_two_rounds_marks_both_rounds_published(
    storage: Repositories,
) -> None:
    names = [f"m{i}" for i in range(4)]
    token, now = LEADER, leading_with(storage, names)
    # Two rounds, neither published (the leader stopped after claiming them),
    # one named as the start of the other's name.
    first = storage.ticks.claim_due(token, now + 5, limit=2, ttl=60, tick_prefix="r2")
    second = storage.ticks.claim_due(token, now + 5, limit=2, ttl=60, tick_prefix="r2x")
    assert first is not None and second is not None
    claimed = sorted(storage.client.zrange(storage.keys.claimed, 0, -1))
    assert claimed == [b"r2", b"r2x"]
    # One message holding both rounds' ticks, interleaved: begun is published.
    a, b = first.ticks, second.ticks
    refs = [(t.sensor, t.tick_id) for t in (a[0], b[0], a[1], b[1])]
    taken = storage.ticks.take_up(refs, HOLDER, 60).answers
    assert [answer for answer, _ in taken] == [""] * 4
    assert storage.client.zcard(storage.keys.claimed) == 0
