"""Sensors that take their process down: each ends as a FAILURE tick that says how.

A sensor that swallows its timeout is ended by the hard exit, one stuck in C
code by its CPU-time limit, one that ends its process is tried once more,
one that allocates without bound fails at its memory limit; the pool process
is replaced, the worker lives on, and a sensor that keeps killing its
process is quarantined instead of crash-looping the pool.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lookout import DefaultSensorStatus, Settings
from lookout.testing import Repositories, TickRecord
from lookout.workers.app import make_celery
from tests.conftest import Spawn, wait_for
from tests.locations.work_support import (
    claim_ticks,
    log_text,
    pids_in,
    publish,
    start_worker,
    wait_committed,
)

LOCATION = "tests.locations.work_deadly"


def _last(storage: Repositories, name: str) -> TickRecord:
    return storage.ticks.history(name, 1)[0]


def _lines_at_least(path: Path, count: int) -> Callable[[], bool]:
    return lambda: len(pids_in(path)) >= count


def _killed_after(record: TickRecord) -> float:
    found = re.search(r"killed after ([\d.]+) s", record.error or "")
    assert found, record.error
    return float(found.group(1))


def test_a_sensor_past_its_timeout_fails_saying_how_its_process_was_ended(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    # Timeout 1 s, hard exit 0.5 s after it.
    settings = replace(settings, tick_timeout=1.0, inflight_margin=1.0)
    worker = start_worker(spawn, settings, LOCATION, concurrency=3, queues=settings.tick_queue)
    app = make_celery(settings)
    ticks = claim_ticks(storage, settings, ["stubborn", "in_c", "steady"])
    # steady shares stubborn's message: it must not pay for its neighbour.
    publish(app, [ticks[0], ticks[2]])
    publish(app, [ticks[1]])
    wait_committed(storage, ticks, timeout=40)
    app.close()

    stubborn = _last(storage, "stubborn")
    assert stubborn.status == "FAILURE" and stubborn.tick_id == ticks[0].tick_id
    assert "it ignored its timeout, so its process ended itself" in (stubborn.error or "")
    assert 1.0 <= _killed_after(stubborn) < 10
    in_c = _last(storage, "in_c")
    assert in_c.status == "FAILURE" and in_c.tick_id == ticks[1].tick_id
    assert "stuck in C code" in (in_c.error or "") and "SIGPROF" in (in_c.error or "")
    assert 1.0 <= _killed_after(in_c) < 20
    assert _last(storage, "steady").status == "SKIPPED"
    assert worker.poll() is None, log_text(worker)


def test_a_sensor_that_allocates_without_bound_fails_at_its_memory_limit(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    env = {"LOOKOUT_SENSOR_MEMORY_MB": "200"}
    worker = start_worker(spawn, settings, LOCATION, queues=settings.tick_queue, env=env)
    app = make_celery(settings)
    ticks = claim_ticks(storage, settings, ["hog", "steady"])
    publish(app, ticks)  # one message: the same process goes on after the hog
    wait_committed(storage, ticks, timeout=30)
    app.close()
    hog = _last(storage, "hog")
    assert hog.status == "FAILURE"
    assert "sensor 'hog' went over its memory limit of 200 MiB" in (hog.error or "")
    assert _last(storage, "steady").status == "SKIPPED"
    assert worker.poll() is None, log_text(worker)


def test_a_sensor_that_ends_its_process_is_tried_once_more_then_fails_and_is_quarantined(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    env = {"LOOKOUT_QUARANTINE_AFTER": "2"}
    worker = start_worker(spawn, settings, LOCATION, queues=settings.tick_queue, env=env)
    storage.sensors.set_status("exits", DefaultSensorStatus.RUNNING, due_at=time.time() + 3600)
    app = make_celery(settings)
    records = []
    for _ in range(2):
        ticks = claim_ticks(storage, settings, ["exits"])
        publish(app, ticks)
        wait_committed(storage, ticks, timeout=30)
        records.append(_last(storage, "exits"))
    app.close()
    first, second = records
    assert first.status == second.status == "FAILURE"
    assert "its process exited with code 3" in (first.error or "")
    assert "(its process died 2 times on this tick)" in (first.error or "")
    assert "quarantined" not in (first.error or "")
    # The second tick in a row that killed its process: held back, not crash-looping.
    assert "quarantined: its evaluations killed their process 2 ticks in a row" in (
        second.error or ""
    )
    [due] = storage.schedule.due_times(["exits"])
    assert due is not None and second.ended_at is not None and due >= second.ended_at + 1.9
    assert worker.poll() is None, log_text(worker)


def test_a_tick_whose_process_is_killed_twice_fails_naming_the_signal(
    spawn: Spawn, settings: Settings, storage: Repositories, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids"
    env = {"WORK_PID_FILE": str(pid_file), "WORK_SLEEP": "30"}
    worker = start_worker(
        spawn, settings, "tests.locations.work_basic", queues=settings.tick_queue, env=env
    )
    app = make_celery(settings)
    ticks = claim_ticks(storage, settings, ["counter"])
    publish(app, ticks)
    for killed in range(1, 3):
        wait_for(_lines_at_least(pid_file, killed), 20, what=f"evaluation {killed}")
        os.kill(pids_in(pid_file)[-1], signal.SIGKILL)
    wait_committed(storage, ticks, timeout=30)
    app.close()
    record = _last(storage, "counter")
    assert record.status == "FAILURE" and record.tick_id == ticks[0].tick_id
    error = record.error or ""
    assert "its process was killed by signal 9 (SIGKILL)" in error, error
    assert "(its process died 2 times on this tick)" in error
    assert 0 <= _killed_after(record) < 30
    assert storage.launches.requests() == []
    assert worker.poll() is None, log_text(worker)
