"""The whole system as users run it: schedulers, workers and a launcher as real processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lookout import Settings
from lookout.testing import EmbeddedRedis, Repositories, free_port, open_repositories
from tests.conftest import ROOT, Process, Spawn, process_env, wait_for
from tests.locations.work_support import log_text, start_launcher, start_worker

LOCATION = "tests.locations.e2e_files"


def _drop(directory: Path, first: int, count: int) -> None:
    for i in range(first, first + count):
        (directory / f"file-{i:04d}.txt").write_text(f"payload {i}\n")


def _runs_by_status(storage: Repositories) -> dict[str, int]:
    return {k: v for k, v in storage.metrics.run_counts().items() if v}


def _start_stack(
    spawn: Spawn,
    settings: Settings,
    directory: Path,
    *,
    schedulers: int,
    workers: int,
    extra: dict[str, str] | None = None,
) -> list[Process]:
    env = {"E2E_DIR": str(directory), **(extra or {})}
    procs: list[Process] = [
        spawn(
            ["lookout", "scheduler", "-m", LOCATION],
            process_env(settings, **env),
            log_name="scheduler",
        )
        for _ in range(schedulers)
    ]
    procs += [
        start_worker(spawn, settings, LOCATION, concurrency=1, env=env) for _ in range(workers)
    ]
    procs.append(start_launcher(spawn, settings, LOCATION, env=env))
    return procs


def test_two_hundred_files_become_exactly_two_hundred_successful_runs(
    spawn: Spawn, settings: Settings, storage: Repositories, tmp_path: Path
) -> None:
    _start_stack(spawn, settings, tmp_path, schedulers=2, workers=3)
    for batch in range(4):  # dropped while everything runs
        _drop(tmp_path, batch * 50, 50)
        time.sleep(0.5)
    wait_for(
        lambda: _runs_by_status(storage) == {"SUCCESS": 200},
        120,
        interval=0.5,
        what="200 successful runs",
    )
    time.sleep(1.5)  # several more ticks see every file again: still 200
    assert _runs_by_status(storage) == {"SUCCESS": 200}
    keys = sorted(r.run_key or "" for r in storage.runs.recent(limit=1000))
    assert keys == [f"file-{i:04d}.txt" for i in range(200)]


def test_redis_restarted_under_load_loses_and_doubles_nothing(spawn: Spawn, tmp_path: Path) -> None:
    data = tmp_path / "redis"
    data.mkdir()
    watched = tmp_path / "watched"
    watched.mkdir()
    port = free_port()
    server = EmbeddedRedis(port, appendonly=True, directory=str(data)).start()
    try:
        settings = Settings(redis_url=server.url, tick_timeout=5.0, inflight_margin=2.0)
        storage = open_repositories(settings)
        # A run message a worker held when Redis went away can be lost with it
        # (kombu restores it while Redis is down); the launchers' sweep hands a
        # run still QUEUED to the run queue again.  Its default wait is 600 s,
        # shortened here to test time; starting a run is idempotent.
        recovery = {"LOOKOUT_RUN_RESUBMIT_AFTER": "8", "LOOKOUT_LAUNCH_CLAIM_IDLE": "4"}
        procs = _start_stack(spawn, settings, watched, schedulers=1, workers=2, extra=recovery)
        _drop(watched, 0, 40)
        wait_for(
            lambda: _runs_by_status(storage).get("SUCCESS", 0) >= 10,
            60,
            what="runs before the restart",
        )
        _drop(watched, 40, 40)
        server.stop()  # SIGTERM: Redis writes its AOF and exits
        time.sleep(2)
        _drop(watched, 80, 40)
        server = EmbeddedRedis(port, appendonly=True, directory=str(data)).start()
        wait_for(
            lambda: _runs_by_status(storage) == {"SUCCESS": 120},
            120,
            interval=0.5,
            what="120 successful runs after the restart",
        )
        assert all(p.poll() is None for p in procs), [log_text(p)[-2000:] for p in procs]
        keys = sorted(r.run_key or "" for r in storage.runs.recent(limit=1000))
        assert keys == [f"file-{i:04d}.txt" for i in range(120)]
    finally:
        server.stop()


def test_lookout_dev_runs_the_pipeline_example_and_stops_cleanly(tmp_path: Path) -> None:
    watched = tmp_path / "incoming"
    watched.mkdir()
    for sample in (ROOT / "examples" / "sample").glob("*.csv"):
        (watched / sample.name).write_bytes(sample.read_bytes())
    env = {k: v for k, v in os.environ.items() if k != "LOOKOUT_REDIS_URL"}
    env.update(LOOKOUT_EXAMPLE_DIR=str(watched), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookout", "dev", "-m", "examples.pipeline", "--port", "0"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 90
    # The alert and the second report are runs of one round when their
    # sensors tick together (a merged round): either may end first, so the
    # command runs until both have.
    reports = 0
    alerted = False
    for line in proc.stdout:
        lines.append(line)
        reports += "report_job SUCCESS" in line
        alerted = alerted or "alert_job SUCCESS" in line
        if (alerted and reports == 2) or time.monotonic() > deadline:
            break
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
    rest, _ = proc.communicate(timeout=30)
    out = "".join(lines) + rest
    assert proc.returncode == 0, out
    assert out.count("ingest_job SUCCESS") == 2 and out.count("ingest_job FAILURE") == 1, out
    assert out.count("report_job SUCCESS") == 2 and "alert_job SUCCESS" in out, out
    assert "stopped scheduler" in out and out.rstrip().endswith("stopped")
    # Nothing the command started is left behind: every pid it reported is gone.
    started = [int(m) for m in re.findall(r"started \w+ \(pid (\d+)\)", out)]
    assert len(started) == 4  # scheduler, worker, launcher, UI
    for pid in started:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
