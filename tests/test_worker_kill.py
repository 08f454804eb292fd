"""kill -9 of a pool process evaluating a tick: the tick is evaluated again, no run lost or doubled.

Four counter sensors tick at once on a worker with four pool processes; each
evaluation writes its pid and sleeps, and the test kills every process it
sees evaluating.  Billiard notices a dead child within about five seconds,
so killing four at a time keeps twenty kills within test time.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from lookout import Settings
from lookout.testing import Repositories, decode_value
from lookout.workers.app import make_celery
from lookout.workers.runs import run_id_for
from tests.conftest import Spawn, wait_for
from tests.locations.work_support import (
    claim_ticks,
    pids_in,
    publish,
    start_launcher,
    start_worker,
    status_events,
    wait_committed,
)

LOCATION = "tests.locations.work_basic"
SENSORS = ["counter", "counter_b", "counter_c", "counter_d"]
KILLS = 20


def _lines_at_least(path: Path, count: int) -> Callable[[], bool]:
    return lambda: len(pids_in(path)) >= count


def test_killing_pool_processes_mid_tick_reevaluates_each_tick_and_no_run_is_lost_or_doubled(
    spawn: Spawn, settings: Settings, storage: Repositories, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids"
    env = {"WORK_PID_FILE": str(pid_file), "WORK_SLEEP": "0.4"}
    # The tick worker's pool processes are the ones killed; runs execute elsewhere.
    ticks_worker = start_worker(
        spawn, settings, LOCATION, concurrency=4, queues=settings.tick_queue, env=env
    )
    start_worker(spawn, settings, LOCATION, concurrency=2, queues=settings.run_queue)
    start_launcher(spawn, settings, LOCATION)
    app = make_celery(settings)
    started = time.monotonic()
    killed: set[int] = set()
    rounds = 0
    while len(killed) < KILLS:
        rounds += 1
        seen = len(pids_in(pid_file))
        ticks = claim_ticks(storage, settings, SENSORS)
        for tick in ticks:  # one message each, so the four run side by side
            publish(app, [tick])
        wait_for(_lines_at_least(pid_file, seen + len(ticks)), 15, what="the evaluations")
        victims = set(pids_in(pid_file)[seen:])
        assert ticks_worker.pid not in victims  # pool children, never the main process
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        killed |= victims
        wait_committed(storage, ticks, timeout=30)
        assert all(storage.ticks.history(t.sensor, 1)[0].tick_id == t.tick_id for t in ticks)
        # Each kill cost exactly one more evaluation, by a process not killed.
        evaluations = pids_in(pid_file)[seen:]
        assert len(evaluations) == len(ticks) + len(victims), (rounds, evaluations, victims)
        assert not victims & set(evaluations[len(ticks) :])
    elapsed = time.monotonic() - started
    app.close()

    total = rounds * len(SENSORS)
    wait_for(lambda: storage.metrics.run_counts()["SUCCESS"] == total, 30, what=f"{total} runs")
    # The runs are what the committed requests became: the launch stream is
    # no witness, as the launchers trim the entries they handled.
    runs = storage.runs.recent(limit=1000)
    assert len(runs) == total
    for name in SENSORS:
        keys = sorted((str(r.run_key) for r in runs if r.sensor == name), key=lambda k: int(k[1:]))
        assert keys == [f"n{i}" for i in range(1, rounds + 1)], (name, keys)
        assert decode_value(storage.sensors.state(name).cursor or b"") == str(rounds)
    assert all(r.run_id == run_id_for(str(r.request_id)) for r in runs)
    assert len(status_events(storage, "STARTED")) == total
    assert ticks_worker.poll() is None
    assert elapsed < 60, f"{len(killed)} kills took {elapsed:.0f} s"
