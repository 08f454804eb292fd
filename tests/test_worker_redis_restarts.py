"""Redis restarted again and again under load: every worker lives on and ticks go on.

A whole stack (a scheduler, three workers with two pool processes each, a
launcher) runs a directory sensor that asks for one run per file, runs that
take a while and busy sensors, so that each worker holds unacknowledged
messages most of the time.  The redis-server (AOF on, so its data survives)
is stopped and started on the same port ten times, each time down for
longer than redis-py's own reconnection tries (so the consumer's connection
is lost for good and Celery closes it while Redis is away), with ticks
committing in between.  Afterwards every worker's main process is still the
one started, ticks still commit and every file became exactly one
successful run.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lookout._core.settings import Settings
from lookout._tools.redis_server import EmbeddedRedis, free_port
from lookout.testing import Repositories
from tests.conftest import TEST_HISTORY, Process, Spawn, process_env, wait_for
from tests.locations.work_support import log_text, start_launcher, start_worker

LOCATION = "tests.locations.fault_load"
RESTARTS = 10
FILES_PER_ROUND = 5


def _drop(directory: Path, first: int, count: int) -> None:
    for i in range(first, first + count):
        (directory / f"file-{i:04d}.txt").write_text(f"payload {i}\n")


def _ticks_committed(storage: Repositories) -> int:
    # A record of a run of like skips counts each of its ticks.
    names = ("file_sensor", "busy_0")
    return sum(t.count for name in names for t in storage.ticks.history(name, 1000))


def _dead(workers: list[Process]) -> list[Process]:
    return [w for w in workers if w.poll() is not None]


@pytest.mark.long
def test_ten_redis_restarts_under_load_kill_no_worker_and_ticks_go_on(
    spawn: Spawn, tmp_path: Path
) -> None:
    data = tmp_path / "redis"
    data.mkdir()
    watched = tmp_path / "watched"
    watched.mkdir()
    port = free_port()
    server = EmbeddedRedis(port, appendonly=True, directory=str(data)).start()
    try:
        settings = Settings(
            redis_url=server.url, tick_timeout=5.0, inflight_margin=2.0, tick_history=TEST_HISTORY
        )
        storage = Repositories.from_settings(settings)
        env = {
            "FAULT_DIR": str(watched),
            "FAULT_RUN_SLEEP": "0.3",
            "FAULT_TICK_SLEEP": "0.2",
            # A run message lost with Redis is handed to the run queue again
            # by the launchers' sweep; shortened from 600 s to test time.
            "LOOKOUT_RUN_RESUBMIT_AFTER": "8",
            "LOOKOUT_LAUNCH_CLAIM_IDLE": "4",
        }
        spawn(["lookout", "scheduler", "-m", LOCATION], process_env(settings, **env), "scheduler")
        workers = [
            start_worker(spawn, settings, LOCATION, concurrency=2, env=env) for _ in range(3)
        ]
        start_launcher(spawn, settings, LOCATION, env=env)
        dropped = 0
        deaths: dict[int, int] = {}  # restart -> workers found dead after it
        for restart in range(1, RESTARTS + 1):
            _drop(watched, dropped, FILES_PER_ROUND)
            dropped += FILES_PER_ROUND
            before = _ticks_committed(storage)

            def ticked(before: int = before) -> bool:
                return _ticks_committed(storage) >= before + 3 or not set(workers) - set(
                    _dead(workers)
                )

            wait_for(
                ticked,
                30,
                interval=0.1,
                what=f"ticks to commit before restart {restart}",
            )
            server.stop()  # SIGTERM: Redis writes its AOF and exits
            time.sleep(2.5 + restart % 3 * 0.5)
            server = EmbeddedRedis(port, appendonly=True, directory=str(data)).start()
            time.sleep(1)  # the consumers find Redis back (or die trying)
            dead = len(_dead(workers)) - sum(deaths.values())
            if dead:
                deaths[restart] = dead
        assert not deaths, (deaths, [log_text(w)[-3000:] for w in _dead(workers)])
        after_last = _ticks_committed(storage)
        wait_for(
            lambda: _ticks_committed(storage) >= after_last + 5,
            30,
            interval=0.2,
            what="ticks after the last restart",
        )
        wait_for(
            lambda: storage.metrics.run_counts().get("SUCCESS", 0) == dropped,
            90,
            interval=0.5,
            what=f"{dropped} successful runs",
        )
        assert not _dead(workers), [log_text(w)[-3000:] for w in _dead(workers)]
        keys = sorted(r.run_key or "" for r in storage.runs.recent(limit=1000))
        assert keys == [f"file-{i:04d}.txt" for i in range(dropped)]
    finally:
        server.stop()
