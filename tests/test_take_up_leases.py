"""A take-up soon after its round's publish keeps the leases the publish armed.

Against the real Redis.  The publish arms each tick's lease for a whole
``inflight_ttl``; a worker taking the message up a moment later has no need
to write every expiry again.  It does when the lease could be short: the
round not yet published (the leader sends before it says so), published
long ago, or by a leader that did not record when.  Whatever it does, the
worker's bound on its leases never outlasts the leases themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest

from lookout import DefaultSensorStatus, Settings
from lookout._core.storage import ClaimRound
from lookout.testing import Repositories, TickMessage, load_definitions, tick_runner
from lookout.workers.batch import TickBatch
from lookout.workers.keeper import LeaseKeeper

LEADER = "leader-take-up"
HOLDER = "host-a:1:job-7"
TTL = 90.0
KEPT = 85.0  # the least lease left that a take-up keeps


def claimed(storage: Repositories, names: Sequence[str], round_name: str) -> ClaimRound:
    """``names`` synced as RUNNING 1 s sensors and claimed in one round, not yet published
    (the leader lock taken as ``LEADER`` first, unless held already).
    """
    assert storage.leader.acquire(LEADER, 60) or storage.leader.renew(LEADER, 60)
    now = time.time()
    sensors = [(n, DefaultSensorStatus.RUNNING, 1.0) for n in names]
    storage.schedule.sync_sensors(LEADER, sensors, now)
    found = storage.ticks.claim_due(LEADER, now + 5, limit=100, ttl=5.0, tick_prefix=round_name)
    assert found is not None and sorted(found.claimed.sensors) == sorted(names)
    return found


def refs(round_: ClaimRound) -> list[tuple[str, str]]:
    return [(t.sensor, t.tick_id) for t in round_.ticks]


def armed_anew(storage: Repositories, names: Sequence[str]) -> bool:
    """Whether each of ``names``' leases runs more than ``KEPT`` s from now, as in
    these tests only a take-up's arming leaves it.
    """
    deadlines = storage.ticks.inflight_deadlines(names)
    return all(d is not None and d > time.time() + KEPT for d in deadlines)


def test_a_take_up_right_after_the_publish_keeps_the_leases_it_armed(
    storage: Repositories,
) -> None:
    names = ["kept_a", "kept_b", "kept_c"]
    round_ = claimed(storage, names, "r-kept-")
    storage.ticks.publish(round_.claimed, TTL)
    published = storage.ticks.inflight_deadlines(names)

    taken = storage.ticks.take_up(refs(round_), HOLDER, TTL, fresh=KEPT)

    assert [answer for answer, _ in taken.answers] == ["", "", ""]
    assert storage.ticks.inflight_deadlines(names) == published
    assert KEPT <= taken.lease_left < TTL
    assert storage.client.zcard(storage.keys.claimed) == 0


def not_published(storage: Repositories, round_: ClaimRound) -> None:
    """The leader sends its messages, then says so: a worker can be quicker.  The
    claim's lease lasts only as long as the leader has to publish.
    """


def published_long_ago(storage: Repositories, round_: ClaimRound) -> None:
    """As if its message waited 10 s in the queue."""
    storage.ticks.publish(round_.claimed, KEPT - 5)


def published_without_its_time(storage: Repositories, round_: ClaimRound) -> None:
    """By a leader of the version before, whose publish recorded no time (and
    whose leases here are made short, to tell them from armed ones).
    """
    storage.ticks.publish(round_.claimed, TTL)
    storage.client.zrem(storage.keys.published, round_.claimed.round)
    storage.client.zadd(
        storage.keys.inflight, dict.fromkeys(round_.claimed.sensors, time.time() + 10)
    )


@pytest.mark.parametrize("prepare", [not_published, published_long_ago, published_without_its_time])
def test_a_take_up_arms_a_whole_lease_for_a_round_not_published_lately(
    storage: Repositories, prepare: Callable[[Repositories, ClaimRound], None]
) -> None:
    names = ["armed_a", "armed_b"]
    round_ = claimed(storage, names, "r-armed-")
    prepare(storage, round_)

    taken = storage.ticks.take_up(refs(round_), HOLDER, TTL, fresh=KEPT)

    assert [answer for answer, _ in taken.answers] == ["", ""]
    assert taken.lease_left == TTL
    assert armed_anew(storage, names)
    assert storage.client.zcard(storage.keys.claimed) == 0


def test_a_message_of_two_rounds_arms_only_the_one_not_published_lately(
    storage: Repositories,
) -> None:
    first = claimed(storage, ["two_a"], "r-one-")
    storage.ticks.publish(first.claimed, TTL)
    second = claimed(storage, ["two_b"], "r-two-")
    storage.ticks.publish(second.claimed, KEPT - 5)
    kept = storage.ticks.inflight_deadlines(["two_a"])

    taken = storage.ticks.take_up(refs(first) + refs(second), HOLDER, TTL, fresh=KEPT)

    assert storage.ticks.inflight_deadlines(["two_a"]) == kept
    assert armed_anew(storage, ["two_b"])
    assert KEPT <= taken.lease_left < TTL


def test_without_fresh_a_take_up_arms_every_lease_it_takes(storage: Repositories) -> None:
    names = ["plain_a"]
    round_ = claimed(storage, names, "r-plain-")
    storage.ticks.publish(round_.claimed, 30.0)

    taken = storage.ticks.take_up(refs(round_), HOLDER, TTL)

    assert taken.lease_left == TTL
    assert armed_anew(storage, names)


def test_a_worker_counts_its_leases_from_the_publish_when_it_keeps_them(
    storage: Repositories, settings: Settings
) -> None:
    # The publish armed the leases a little shorter than a take-up would: the
    # worker's bound (what it checks before each evaluation) is theirs, not
    # a whole lease from its take-up.
    patient = replace(settings, inflight_margin=60.0)
    runner = tick_runner(load_definitions(module="tests.locations.work_basic"), storage, patient)
    round_ = claimed(storage, ["counter"], "r-worker-")
    shorter = patient.lease_kept + 1.0
    storage.ticks.publish(round_.claimed, shorter)
    keeper = LeaseKeeper(runner.ticks, patient)
    batch = TickBatch(runner, keeper, lambda *_: None, "job-7")
    [tick] = round_.ticks

    [(held, _)] = batch.begin([TickMessage(tick.sensor, tick.tick_id, tick.due_at)])

    assert held.tick_id == tick.tick_id
    [deadline] = storage.ticks.inflight_deadlines(["counter"])
    assert deadline is not None and deadline <= time.time() + shorter  # as the publish armed it
    bound = keeper.surely_held((tick.sensor, tick.tick_id))
    assert patient.lease_kept <= bound <= deadline - time.time() + 0.05
    keeper.drop([(tick.sensor, tick.tick_id)])
