"""Event sensors always move on: a backlog longer than the timeout, an undecodable entry.

A tick stops taking events once its share of the timeout is used, commits
its cursor at the last event it finished and is due again at once; no event
is handed to the user function twice.  An entry of the event stream that
does not decode is dead-lettered once and skipped by every event sensor.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from lookout import DefaultSensorStatus, Settings
from lookout.testing import EventKind, Repositories, RunEvent, load_definitions, tick_runner
from tests.conftest import text

LOCATION = "tests.locations.work_backlog"


def _success(run_id: str) -> RunEvent:
    return RunEvent(
        kind=EventKind.RUN_STATUS.value,
        run_id=run_id,
        job_name="watched_job",
        timestamp=time.time(),
        status="SUCCESS",
    )


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "seen"
    monkeypatch.setenv("WORK_BACKLOG_SEEN", str(path))
    monkeypatch.setenv("WORK_BACKLOG_SLEEP", "0.1")
    return path


def test_a_backlog_longer_than_the_timeout_advances_and_no_event_is_seen_twice(
    storage: Repositories, settings: Settings, seen: Path
) -> None:
    # 30 events at 0.1 s each against a 1 s timeout (a 0.5 s budget per tick).
    settings = replace(settings, tick_timeout=1.0)
    runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
    storage.sensors.set_status("slow_watch", DefaultSensorStatus.RUNNING, due_at=time.time())
    assert runner.tick("slow_watch") is not None  # the first tick starts at the newest event
    runs = [f"run-{i:02d}" for i in range(30)]
    for run_id in runs:
        storage.events.append(_success(run_id))
    records = []
    for _ in range(20):
        record = runner.tick("slow_watch")
        assert record is not None
        records.append(record)
        assert record.status == "SKIPPED", record.error
        if record.skip_reason != "noted" or len(seen.read_text().split()) == len(runs):
            break
        # Due again at once, not a whole interval (30 s) later.
        [due] = storage.schedule.due_times(["slow_watch"])
        assert due is not None and due <= time.time()
    assert seen.read_text().split() == runs  # each once, in order
    assert 3 <= len(records) <= 12, len(records)


def test_an_undecodable_event_is_dead_lettered_once_and_skipped_by_every_sensor(
    storage: Repositories, settings: Settings, seen: Path
) -> None:
    runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
    assert runner.tick("slow_watch") is not None
    storage.events.append(_success("before"))
    bad = storage.client.xadd(storage.keys.events, {"d": b"\xc1 not msgpack"})
    storage.client.xadd(storage.keys.events, {"x": b"no payload field"})
    storage.events.append(_success("after"))
    for _ in range(2):
        record = runner.tick("slow_watch")
        assert record is not None and record.status == "SKIPPED", record and record.error
    assert seen.read_text().split() == ["before", "after"]
    letters = [letter for _, letter in storage.dead_letters.newest()]
    assert [letter.source for letter in letters] == ["stream:events", "stream:events"]
    assert letters[1].payload == b"\xc1 not msgpack" and letters[1].ref == text(bad)
    assert storage.client.xlen(storage.keys.events) == 2
