"""The tick task on a real ``lookout worker``: batches commit, redeliveries and garbage do not."""

from __future__ import annotations

import time
from typing import Any

import msgpack

from lookout import DefaultSensorStatus, Settings
from lookout.testing import TICK_TASK, Repositories, TickMessage
from lookout.workers.ticks import pack_ticks
from tests.conftest import Spawn, wait_for
from tests.locations.work_support import (
    claim_ticks,
    committed,
    log_text,
    publish,
    publish_maps,
    start_worker,
    tick_and_wait,
    wait_committed,
)

LOCATION = "tests.locations.work_basic"


def test_a_tick_batch_commits_each_tick_and_a_redelivered_tick_changes_nothing(
    spawn: Spawn, settings: Settings, storage: Repositories, app: Any
) -> None:
    worker = start_worker(spawn, settings, LOCATION, env={"WORK_BURST": "3"})
    ticks = tick_and_wait(storage, settings, app, ["counter", "burst"])
    assert [r.run_key for _, r in storage.launches.requests()] == ["n1", "t1-0", "t1-1", "t1-2"]
    history = {t.sensor: storage.ticks.history(t.sensor, 100) for t in ticks}
    assert all(h[0].tick_id == t.tick_id for t, h in zip(ticks, history.values(), strict=True))

    publish(app, ticks)  # the same tick ids again, as a broker redelivery would
    wait_for(
        lambda: "'already_done': 2" in log_text(worker), 15, what="the redelivery to be handled"
    )
    assert len(storage.launches.requests()) == 4
    assert {t.sensor: storage.ticks.history(t.sensor, 100) for t in ticks} == history
    assert storage.sensors.state("counter").cursor == b"\xa11"  # msgpack "1"
    assert storage.sensors.state("counter").inflight is None


def _publish_raw(app: Any, settings: Settings, body: bytes, content_type: str, ref: str) -> None:
    """A message on the tick queue with a body of our choosing, task header and all."""
    with app.producer_or_acquire() as producer:
        producer.publish(
            body,
            exchange=settings.tick_queue,
            routing_key=settings.tick_queue,
            content_type=content_type,
            content_encoding="binary",
            headers={"task": TICK_TASK, "id": ref, "lang": "py", "argsrepr": "", "retries": 0},
        )


def test_malformed_tick_messages_are_dead_lettered_and_the_worker_keeps_consuming(
    spawn: Spawn, settings: Settings, storage: Repositories, app: Any
) -> None:
    import pickle

    worker = start_worker(spawn, settings, LOCATION)
    app.send_task(TICK_TASK, args=["not a list"])
    app.send_task(TICK_TASK, args=[[{"sensor": "counter"}, 17]])
    # Columns of another shape, and a tick whose id is not a string beside a good one.
    app.send_task(TICK_TASK, args=[{"sensor": ["counter"], "tick_id": ["t"], "due": [1.0]}])
    (good,) = claim_ticks(storage, settings, ["counter"])
    columns = pack_ticks([good])
    columns["sensor"].append("counter")
    columns["tick_id"].append(17)
    columns["due_at"].append(1.0)
    app.send_task(TICK_TASK, args=[columns], task_id="mixed")
    wait_committed(storage, [good])
    _publish_raw(app, settings, b"\xc1\xc1 not msgpack", "application/x-msgpack", "bad-msgpack")
    # A pickle must never be unpickled (invariant 6): it is refused and kept as a dead letter.
    _publish_raw(app, settings, pickle.dumps([[]]), "application/x-python-serialize", "a-pickle")
    tick_and_wait(storage, settings, app, ["counter"])

    wait_for(lambda: len(storage.dead_letters.newest()) >= 7, 15, what="seven dead letters")
    letters = [letter for _, letter in storage.dead_letters.newest(100)]
    assert len(letters) == 7
    reasons = [letter.reason for letter in letters]
    assert all(letter.source == f"queue:{settings.tick_queue}" for letter in letters)
    assert any("one positional argument" in r and "not a list" in r for r in reasons), reasons
    assert len([r for r in reasons if "has no tick id" in r]) == 2, reasons
    assert any("columns must be" in r and "'due'" in r for r in reasons), reasons
    assert any("a tick must be a map, got int" in r for r in reasons), reasons
    assert any("cannot decode the message body" in r for r in reasons), reasons
    assert any("invalid task message" in r and "pickle" in r for r in reasons), reasons
    raw = {letter.ref: letter.payload for letter in letters}
    assert raw["bad-msgpack"] == b"\xc1\xc1 not msgpack"
    assert msgpack.unpackb(raw["mixed#1"]) == ["counter", 17, 1.0]  # the tick, whole

    # The good ticks beside the garbage committed, and the worker goes on consuming.
    assert worker.poll() is None
    assert [r.run_key for _, r in storage.launches.requests()] == ["n1", "n2"]
    tick_and_wait(storage, settings, app, ["counter"])
    assert [r.run_key for _, r in storage.launches.requests()] == ["n1", "n2", "n3"]


def test_a_message_of_tick_maps_queued_before_an_upgrade_still_commits(
    spawn: Spawn, settings: Settings, storage: Repositories, app: Any
) -> None:
    start_worker(spawn, settings, LOCATION)
    ticks = claim_ticks(storage, settings, ["counter", "burst"])
    publish_maps(app, ticks)  # a list of {sensor, tick_id, due_at} maps, as sent before columns
    wait_committed(storage, ticks)
    assert storage.dead_letters.newest() == []


def test_a_tick_of_a_sensor_this_worker_does_not_define_is_given_back_not_dead_lettered(
    spawn: Spawn, settings: Settings, storage: Repositories, app: Any
) -> None:
    """A rolling deploy: the scheduler's code has a sensor this worker's code has not."""
    worker = start_worker(spawn, settings, LOCATION)
    storage.sensors.sync("newer_sensor", DefaultSensorStatus.RUNNING, 30.0)
    storage.sensors.sync("other_new", DefaultSensorStatus.RUNNING, 30.0)
    (mine,) = claim_ticks(storage, settings, ["newer_sensor"])
    (held,) = claim_ticks(storage, settings, ["other_new"])
    stale = TickMessage("other_new", "an-older-tick", held.due_at)  # does not hold the mark
    asked = time.time()
    publish(app, [mine, stale])
    ticks = tick_and_wait(storage, settings, app, ["counter"])  # the worker got that far

    wait_for(lambda: "'unknown': 1" in log_text(worker), 10, what="the unknown tick")
    assert "newer_sensor" in log_text(worker) and "rolling deploy" in log_text(worker)
    assert storage.dead_letters.newest() == []
    # Given back: no mark, no tick record, and due again in a whole interval (not at once,
    # so a worker that cannot evaluate it does not get it back again and again).
    assert storage.sensors.state("newer_sensor").inflight is None
    assert storage.ticks.inflight_deadlines(["newer_sensor"]) == [None]
    assert storage.ticks.history("newer_sensor") == []
    due = storage.client.zscore(storage.keys.due, "newer_sensor")
    assert due is not None and asked + 30 <= due <= time.time() + 30
    # A tick that did not hold the mark gives nothing back.
    assert storage.sensors.state("other_new").inflight == held.tick_id
    assert committed(storage, ticks[0])
