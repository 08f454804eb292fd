"""A message's ticks run in turn; one taken up too late to finish under its mark is not run.

And a slow evaluation never keeps the commits of the fast ticks before it
waiting: they are sent before it starts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from lookout import DefaultSensorStatus, Settings
from lookout._core.storage import TickCommit
from lookout.testing import (
    Repositories,
    TickMessage,
    TickRecord,
    load_definitions,
    tick_runner,
)
from lookout.workers.batch import BatchEvaluator
from lookout.workers.ticks import NotEvaluated, TickResult
from tests.conftest import wait_for
from tests.locations.work_support import claim_ticks, committed

LOCATION = "tests.locations.work_basic"
SLOW = "tests.locations.work_slow"


def test_a_tick_whose_mark_could_lapse_mid_evaluation_is_given_back_with_no_failure_record(
    storage: Repositories, settings: Settings
) -> None:
    runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
    now = time.time()
    storage.sensors.set_status("counter_b", DefaultSensorStatus.RUNNING, due_at=now)
    # Due long ago (a scheduler took over late) but claimed just now: evaluated.
    assert storage.ticks.claim("counter", "t-1", now, now + settings.inflight_ttl) == "t-1"
    # Its mark lapses sooner than an evaluation may take: a second tick could overlap it.
    short = now + settings.tick_timeout - 2
    assert storage.ticks.claim("counter_b", "t-2", now, short) == "t-2"
    ticks = [TickMessage("counter", "t-1", now - 100), TickMessage("counter_b", "t-2", now)]
    fresh, late = BatchEvaluator(runner, settings).run(ticks)

    assert fresh is not None and not isinstance(fresh, NotEvaluated)
    assert fresh.status == "SUCCESS"
    assert late is NotEvaluated.GIVEN_BACK
    # A neighbour's slowness is no failure of this sensor: no record at all.
    assert storage.ticks.history("counter_b") == []
    assert [r.sensor for _, r in storage.launches.requests()] == ["counter"]
    state = storage.sensors.state("counter_b")
    assert state.inflight is None and state.cursor is None
    assert storage.ticks.inflight_deadlines(["counter_b"]) == [None]
    due = storage.client.zscore(storage.keys.due, "counter_b")
    assert due is not None and due <= time.time()
    # A redelivery of the same message finds one committed, the other given back.
    assert BatchEvaluator(runner, settings).run(ticks) == [None, None]
    assert storage.ticks.history("counter_b") == []


def test_a_late_tick_whose_mark_moved_on_is_not_given_back_twice(
    storage: Repositories, settings: Settings
) -> None:
    runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
    now = time.time()
    assert storage.ticks.claim("counter", "old", now, now + 1) == "old"
    # The scheduler took the lapsed mark over for a new tick before the old one arrived.
    assert storage.ticks.claim("counter", "new", now + 2, now + 100) == "new"
    assert BatchEvaluator(runner, settings).run([TickMessage("counter", "old", now)]) == [None]
    assert storage.sensors.state("counter").inflight == "new"


@pytest.fixture
def slow_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    mark = tmp_path / "sluggish-started"
    monkeypatch.setenv("WORK_SLOW_MARK", str(mark))
    monkeypatch.setenv("WORK_SLOW_SLEEP", "1.5")
    yield mark


def _starts(mark: Path) -> int:
    return len(mark.read_text().split()) if mark.exists() else 0


def _run_in_thread(
    evaluator: BatchEvaluator, ticks: list[TickMessage]
) -> tuple[threading.Thread, list[list[TickResult]]]:
    out: list[list[TickResult]] = []
    thread = threading.Thread(target=lambda: out.append(evaluator.run(ticks)), daemon=True)
    thread.start()
    return thread, out


def test_fast_ticks_are_committed_before_a_sensor_whose_last_tick_was_slow_is_evaluated(
    storage: Repositories, settings: Settings, slow_env: Path
) -> None:
    runner = tick_runner(load_definitions(module=SLOW), storage, settings)
    assert runner.tick("sluggish") is not None  # its last tick took 1.5 s
    ticks = claim_ticks(storage, settings, ["quick", "sluggish"])
    thread, out = _run_in_thread(BatchEvaluator(runner, settings), ticks)

    wait_for(lambda: _starts(slow_env) == 2, 10, what="sluggish's second evaluation")
    # quick's commit did not wait behind sluggish's 1.5 s.
    assert committed(storage, ticks[0]) and storage.sensors.state("quick").inflight is None
    assert not committed(storage, ticks[1])
    thread.join(10)
    assert [r is not None and not isinstance(r, NotEvaluated) for r in out[0]] == [True, True]
    assert committed(storage, ticks[1])


def test_a_pending_commit_is_sent_before_an_evaluation_that_could_outlast_its_deadline(
    storage: Repositories, settings: Settings, slow_env: Path
) -> None:
    runner = tick_runner(load_definitions(module=SLOW), storage, settings)
    now = time.time()
    # quick may be evaluated (a full timeout still fits before its deadline),
    # but a neighbour running its full timeout after it would take its
    # commit past that deadline; sluggish has no history to say it is slow.
    assert storage.ticks.claim("quick", "q-1", now, now + settings.tick_timeout + 0.5) == "q-1"
    (slow,) = claim_ticks(storage, settings, ["sluggish"])
    ticks = [TickMessage("quick", "q-1", now), slow]
    thread, out = _run_in_thread(BatchEvaluator(runner, settings), ticks)

    wait_for(lambda: _starts(slow_env) == 1, 10, what="sluggish's evaluation")
    assert committed(storage, ticks[0])
    thread.join(10)
    assert all(r is not None and not isinstance(r, NotEvaluated) for r in out[0])


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
    results = BatchEvaluator(runner, settings).run(ticks)
    assert all(isinstance(r, TickRecord) for r in results)
    assert sent == [4]  # one pipeline for the four
