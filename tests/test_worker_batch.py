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


def test_a_tick_taken_up_past_the_in_flight_margin_is_not_evaluated_and_is_due_again(
    storage: Storage, settings: Settings
) -> None:
    runner = TickRunner(load_definitions(module=LOCATION), storage, settings)
    now = time.time()
    storage.set_status("counter_b", DefaultSensorStatus.RUNNING, due_at=now)
    for name in ("counter", "counter_b"):
        assert storage.claim(name, f"t-{name}", now, now + settings.inflight_ttl) == f"t-{name}"
    late_by = settings.inflight_margin + 5
    ticks = [
        TickMessage("counter", "t-counter", now),
        # Due (and so claimed no earlier than) long ago: its mark may lapse mid-evaluation.
        TickMessage("counter_b", "t-counter_b", now - late_by),
    ]
    fresh, late = BatchEvaluator(runner, settings).run(ticks)

    assert fresh is not None and fresh.status == "SUCCESS"
    assert late is not None and late.status == "FAILURE"
    assert late.error is not None and "tick not evaluated" in late.error
    assert f"{late_by:.0f}." in late.error and "in-flight margin" in late.error
    assert [r.sensor for _, r in storage.launch_requests()] == ["counter"]
    state = storage.sensor_state("counter_b")
    assert state.inflight is None and state.cursor is None
    due = storage.client.zscore(storage.keys.due, "counter_b")
    assert due is not None and due <= time.time()
    # A redelivery of the same message finds both committed.
    assert BatchEvaluator(runner, settings).run(ticks) == [None, None]
