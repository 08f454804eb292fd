"""A message's ticks run in turn; one taken up too late to finish under its mark is not run."""

from __future__ import annotations

import time

from shared._location import load_definitions
from shared._requests import DefaultSensorStatus
from shared._settings import Settings
from shared._storage import Storage
from shared._tick import TickRunner
from shared._wire import TickMessage
from workers.batch import BatchEvaluator

LOCATION = "tests.locations.work_basic"


def test_a_tick_whose_mark_could_lapse_mid_evaluation_is_not_evaluated_and_is_due_again(
    storage: Storage, settings: Settings
) -> None:
    runner = TickRunner(load_definitions(module=LOCATION), storage, settings)
    now = time.time()
    storage.set_status("counter_b", DefaultSensorStatus.RUNNING, due_at=now)
    # Due long ago (a scheduler took over late) but claimed just now: evaluated.
    assert storage.claim("counter", "t-1", now, now + settings.inflight_ttl) == "t-1"
    # Its mark lapses sooner than an evaluation may take: a second tick could overlap it.
    short = now + settings.tick_timeout - 2
    assert storage.claim("counter_b", "t-2", now, short) == "t-2"
    ticks = [TickMessage("counter", "t-1", now - 100), TickMessage("counter_b", "t-2", now)]
    fresh, late = BatchEvaluator(runner, settings).run(ticks)

    assert fresh is not None and fresh.status == "SUCCESS"
    assert late is not None and late.status == "FAILURE"
    assert late.error is not None and late.error.startswith("tick not evaluated: it reached")
    assert "before its in-flight mark lapses" in late.error
    assert [r.sensor for _, r in storage.launch_requests()] == ["counter"]
    state = storage.sensor_state("counter_b")
    assert state.inflight is None and state.cursor is None
    due = storage.client.zscore(storage.keys.due, "counter_b")
    assert due is not None and due <= time.time()
    # A redelivery of the same message finds both committed.
    assert BatchEvaluator(runner, settings).run(ticks) == [None, None]
