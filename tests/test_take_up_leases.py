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
from collections.abc import Sequence
from dataclasses import replace

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


def test_a_take_up_before_the_publish_arms_the_leases_for_a_whole_ttl(
    storage: Repositories,
) -> None:
    # The leader sends its messages, then says so: a worker can be quicker.
    # The claim's lease lasts only as long as the leader has to publish.
    names = ["early_a", "early_b"]
    round_ = claimed(storage, names, "r-early-")

    taken = storage.ticks.take_up(refs(round_), HOLDER, TTL, fresh=KEPT)

    assert taken.lease_left == TTL
    assert all(
        d is not None and d > time.time() + KEPT for d in storage.ticks.inflight_deadlines(names)
    )
    assert storage.client.zcard(storage.keys.claimed) == 0


def test_a_take_up_long_after_the_publish_arms_the_leases_again(storage: Repositories) -> None:
    names = ["late_a", "late_b"]
    round_ = claimed(storage, names, "r-late-")
    storage.ticks.publish(round_.claimed, KEPT - 5)  # as if it waited 10 s in the queue

    taken = storage.ticks.take_up(refs(round_), HOLDER, TTL, fresh=KEPT)

    assert taken.lease_left == TTL
    assert all(
        d is not None and d > time.time() + KEPT for d in storage.ticks.inflight_deadlines(names)
    )


def test_a_round_published_without_its_time_has_its_leases_armed_at_the_take_up(
    storage: Repositories,
) -> None:
    # A leader of the version before publishes without recording the time.
    names = ["before_a", "before_b"]
    round_ = claimed(storage, names, "r-before-")
    storage.ticks.publish(round_.claimed, TTL)
    storage.client.zrem(storage.keys.published, round_.claimed.round)
    storage.client.zadd(storage.keys.inflight, dict.fromkeys(names, time.time() + 10))

    taken = storage.ticks.take_up(refs(round_), HOLDER, TTL, fresh=KEPT)

    assert taken.lease_left == TTL
    assert all(
        d is not None and d > time.time() + KEPT for d in storage.ticks.inflight_deadlines(names)
    )


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
    [armed] = storage.ticks.inflight_deadlines(["two_b"])
    assert armed is not None and armed > time.time() + KEPT
    assert KEPT <= taken.lease_left < TTL


def test_without_fresh_a_take_up_arms_every_lease_it_takes(storage: Repositories) -> None:
    names = ["plain_a"]
    round_ = claimed(storage, names, "r-plain-")
    storage.ticks.publish(round_.claimed, 30.0)

    taken = storage.ticks.take_up(refs(round_), HOLDER, TTL)

    assert taken.lease_left == TTL
    assert all(
        d is not None and d > time.time() + KEPT for d in storage.ticks.inflight_deadlines(names)
    )


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
