"""A message's ticks run in turn under their leases, renewed while the process evaluates.

A tick taken up late still gets a whole lease; one whose lease moved on is
left alone; a process that can no longer be sure of its leases stops and
gives the rest back; a slow evaluation never keeps the commits of the fast
ticks before it waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lookout import DefaultSensorStatus, Settings
from lookout._core.storage import TickCommit
from lookout._process.tick import TickRunner
from lookout.testing import (
    Repositories,
    TickMessage,
    TickRecord,
    load_definitions,
    tick_runner,
)
from lookout.workers.batch import TickBatch
from lookout.workers.keeper import LeaseKeeper
from lookout.workers.ticks import BatchOutcome
from tests.conftest import wait_for
from tests.locations.work_support import claim_ticks, committed

LOCATION = "tests.locations.work_basic"
SLOW = "tests.locations.work_slow"


def run_batch(
    runner: TickRunner, ticks: Sequence[TickMessage], keeper: LeaseKeeper | None = None
) -> BatchOutcome:
    """One message's ticks through the worker's path, as the tick task runs them."""
    keeper = keeper or LeaseKeeper(runner.ticks, runner.settings)
    buried: list[str] = []
    batch = TickBatch(runner, keeper, lambda reason, payload, ref: buried.append(reason), "job-1")
    outcome = batch.handle([[t.to_wire() for t in ticks]], {})
    assert buried == []
    return outcome


def test_a_tick_taken_up_late_still_gets_a_whole_lease_and_is_evaluated(
    storage: Repositories, settings: Settings
) -> None:
    runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
    now = time.time()
    # Claimed with a lease about to lapse (it waited in the queue): beginning
    # it gives it a whole lease, measured from now by Redis's clock.
    assert storage.ticks.claim("counter", "t-1", 0.5, now) == "t-1"
    outcome = run_batch(runner, [TickMessage("counter", "t-1", now - 100)])
    assert outcome.committed == 1
    [record] = storage.ticks.history("counter")
    assert record.tick_id == "t-1" and record.status == "SUCCESS"
    assert storage.sensors.state("counter").inflight is None


def test_a_late_tick_whose_lease_moved_on_is_left_alone(
    storage: Repositories, settings: Settings
) -> None:
    runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
    now = time.time()
    assert storage.ticks.claim("counter", "old", 0.05, now) == "old"
    time.sleep(0.1)
    # The lapsed lease, never begun, is expired (no record: the sensor was not
    # evaluated) and taken by a new tick.
    assert storage.ticks.claim("counter", "new", 100, now) == "new"
    outcome = run_batch(runner, [TickMessage("counter", "old", now)])
    assert outcome == BatchOutcome(already_done=1)
    assert storage.sensors.state("counter").inflight == "new"
    assert storage.ticks.history("counter") == []


def test_a_process_unsure_of_its_leases_stops_and_gives_the_rest_back_without_a_record(
    storage: Repositories, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
    storage.sensors.set_status("counter_b", DefaultSensorStatus.RUNNING, due_at=time.time())
    ticks = claim_ticks(storage, settings, ["counter", "counter_b"])
    # This process's clock says its last renewal Redis confirmed was long ago
    # (Redis unreachable since): after the first evaluation it stops.
    clock = {"now": time.monotonic()}
    keeper = LeaseKeeper(storage.ticks, settings, monotonic=lambda: clock["now"])
    evaluate = runner.evaluate

    def evaluate_then_lose_redis(*args: Any, **kwargs: Any) -> TickCommit:
        commit = evaluate(*args, **kwargs)
        clock["now"] += settings.inflight_ttl
        return commit

    monkeypatch.setattr(runner, "evaluate", evaluate_then_lose_redis)
    outcome = run_batch(runner, ticks, keeper)
    assert outcome.committed == 1 and outcome.given_back == 1
    # No record for the tick not evaluated: its sensor did not fail.
    assert storage.ticks.history("counter_b") == []
    state = storage.sensors.state("counter_b")
    assert state.inflight is None and state.cursor is None
    due = storage.client.zscore(storage.keys.due, "counter_b")
    assert due is not None and due <= time.time()


@pytest.fixture
def slow_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    mark = tmp_path / "sluggish-started"
    monkeypatch.setenv("WORK_SLOW_MARK", str(mark))
    monkeypatch.setenv("WORK_SLOW_SLEEP", "1.5")
    yield mark


def _starts(mark: Path) -> int:
    return len(mark.read_text().split()) if mark.exists() else 0


def _run_in_thread(
    runner: TickRunner, ticks: list[TickMessage]
) -> tuple[threading.Thread, list[BatchOutcome]]:
    out: list[BatchOutcome] = []
    thread = threading.Thread(target=lambda: out.append(run_batch(runner, ticks)), daemon=True)
    thread.start()
    return thread, out


def test_fast_ticks_are_committed_before_a_sensor_whose_last_tick_was_slow_is_evaluated(
    storage: Repositories, settings: Settings, slow_env: Path
) -> None:
    runner = tick_runner(load_definitions(module=SLOW), storage, settings)
    assert runner.tick("sluggish") is not None  # its last tick took 1.5 s
    ticks = claim_ticks(storage, settings, ["quick", "sluggish"])
    thread, out = _run_in_thread(runner, ticks)

    wait_for(lambda: _starts(slow_env) == 2, 10, what="sluggish's second evaluation")
    # quick's commit did not wait behind sluggish's 1.5 s.
    assert committed(storage, ticks[0]) and storage.sensors.state("quick").inflight is None
    assert not committed(storage, ticks[1])
    thread.join(10)
    assert out == [BatchOutcome(committed=2)]
    assert committed(storage, ticks[1])


def test_leases_are_renewed_while_a_message_outlasts_them(
    storage: Repositories, settings: Settings, slow_env: Path
) -> None:
    # A lease of 2.9 s (renewed every 0.3 s) under a message that takes 3 s.
    short = replace(settings, tick_timeout=2.0, inflight_margin=0.9)
    runner = tick_runner(load_definitions(module=SLOW), storage, short)
    ticks = claim_ticks(storage, short, ["quick", "sluggish", "sluggish_b"])
    thread, out = _run_in_thread(runner, ticks)
    # An intruder takes any lease that lapsed, as the sweep would: had one
    # lapsed before its commit, that commit would be refused.
    while thread.is_alive():
        for name in ("quick", "sluggish", "sluggish_b"):
            storage.ticks.claim(name, f"intruder-{time.monotonic()}", 100, time.time())
        time.sleep(0.05)
    assert out == [BatchOutcome(committed=3)]
    assert all(committed(storage, t) for t in ticks)


def test_fast_ticks_beside_fast_ones_still_share_one_commit_round_trip(
    storage: Repositories, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
    ticks = claim_ticks(storage, settings, ["counter", "counter_b", "counter_c", "counter_d"])
    sent: list[int] = []
    commit_many = storage.ticks.commit_many

    def counting(commits: Sequence[TickCommit]) -> list[TickRecord | None]:
        sent.append(len(commits))
        return commit_many(commits)

    monkeypatch.setattr(storage.ticks, "commit_many", counting)
    assert run_batch(runner, ticks) == BatchOutcome(committed=4)
    assert sent == [4]  # one script call for the four
