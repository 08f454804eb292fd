"""Several runs per run message, and the launcher's back-pressure, on real processes.

A pack's runs are executed one after another, each exactly as a run alone;
a pool process killed mid-pack gives the message back, and its redelivery
settles what ran, fails the run that was cut off and runs the rest, once
each.  While the QUEUED runs are at ``LOOKOUT_RUN_QUEUE_LIMIT`` the launcher
reads no request: they wait on the launch stream, and the monitor says so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lookout import Settings
from lookout._core.settings import SettingsError
from lookout._tools.monitor.collector import state_metrics
from lookout._tools.monitor.figures import read_figures
from lookout.testing import LaunchRequest, Repositories, load_definitions, tick_runner
from lookout.workers.app import make_celery
from lookout.workers.launcher import packs, run_submitter
from lookout.workers.runs import new_run, run_id_for, status_event
from tests.conftest import ROOT, Spawn, process_env, wait_for
from tests.locations.work_support import (
    log_text,
    pids_in,
    start_launcher,
    start_worker,
    status_events,
)

LOCATION = "tests.locations.work_basic"


def _burst(storage: Repositories, settings: Settings, size: int) -> list[str]:
    """Commit one tick of ``burst`` asking for ``size`` runs; the run ids it asks for."""
    os.environ["WORK_BURST"] = str(size)
    try:
        runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
        record = runner.tick("burst")
    finally:
        del os.environ["WORK_BURST"]
    assert record is not None and len(record.run_request_ids) == size
    return sorted(run_id_for(r.request_id) for _, r in storage.launches.requests(100_000))


def _once_each(storage: Repositories, run_ids: list[str], statuses: tuple[str, ...]) -> None:
    """Each run reached each of ``statuses`` exactly once, and no other run did."""
    for status in statuses:
        per_run = Counter(e.run_id for e in status_events(storage, status))
        assert sorted(per_run) == sorted(run_ids) and set(per_run.values()) == {1}, status


def _run_queue_messages(storage: Repositories, settings: Settings) -> int:
    return storage.metrics.celery_queue_lengths([settings.run_queue])[settings.run_queue]


def test_packs_cut_runs_into_few_even_messages_in_order() -> None:
    ids = [f"r{i}" for i in range(23)]
    assert packs(ids, 10) == [ids[:8], ids[8:15], ids[15:]]
    assert packs(ids, 1) == [[i] for i in ids]
    assert packs(ids[:3], 10) == [ids[:3]]
    assert packs([], 10) == []


def test_the_pack_size_and_the_run_queue_bound_are_validated_settings() -> None:
    env = {"LOOKOUT_RUN_PACK_SIZE": "25", "LOOKOUT_RUN_QUEUE_LIMIT": "0"}
    settings = Settings.from_env(env)
    assert (settings.run_pack_size, settings.run_queue_limit) == (25, 0)
    with pytest.raises(SettingsError, match="LOOKOUT_RUN_PACK_SIZE=0 must be 1 or more"):
        Settings.from_env({"LOOKOUT_RUN_PACK_SIZE": "0"})
    with pytest.raises(SettingsError, match="LOOKOUT_RUN_QUEUE_LIMIT=-5 must be 0 or more"):
        Settings.from_env({"LOOKOUT_RUN_QUEUE_LIMIT": "-5"})
    with pytest.raises(SettingsError, match="LOOKOUT_RUN_QUEUE_LIMIT='many'"):
        Settings.from_env({"LOOKOUT_RUN_QUEUE_LIMIT": "many"})


def test_runs_packed_by_the_launcher_all_reach_success_exactly_once(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    # The first read (10) goes one run per message; after it 10 runs wait,
    # so each later read goes in messages of up to 5.
    env = {"LOOKOUT_LAUNCH_BATCH": "10", "LOOKOUT_RUN_PACK_SIZE": "5"}
    run_ids = _burst(storage, settings, 60)
    start_launcher(spawn, settings, LOCATION, env=env)
    wait_for(lambda: storage.metrics.run_counts()["QUEUED"] == 60, 20, what="60 queued runs")
    wait_for(lambda: storage.launches.pending(settings.launch_group) == 0, 10, what="acks")
    assert _run_queue_messages(storage, settings) == 10 + 50 // 5

    worker = start_worker(spawn, settings, LOCATION, concurrency=2, queues=settings.run_queue)
    wait_for(lambda: storage.metrics.run_counts()["SUCCESS"] == 60, 60, what="60 runs")
    _once_each(storage, run_ids, ("QUEUED", "STARTED", "SUCCESS"))
    assert sorted(r.run_id for r in storage.runs.recent(limit=1000)) == run_ids
    wait_for(lambda: log_text(worker).count("'5 executed'") == 10, 10, what="10 packs of 5")


def _queued_runs(storage: Repositories, jobs: list[str]) -> list[str]:
    """Create a QUEUED run of each job, handed out now; their ids in order."""
    definitions = load_definitions(module=LOCATION)
    now = time.time()
    records = [
        new_run(
            LaunchRequest(
                request_id=f"pack-{i}",
                sensor="burst",
                tick_id="t1",
                job_name=job,
                run_key=None,
                run_config={},
                tags={},
                partition_key=None,
                created_at=now,
            ),
            definitions,
            now,
        )
        for i, job in enumerate(jobs)
    ]
    storage.runs.create([(r, status_event(r, r.status, now)) for r in records])
    storage.runs.mark_enqueued([r.run_id for r in records], now)
    return [r.run_id for r in records]


def test_a_pool_process_killed_mid_pack_loses_no_run_and_runs_none_twice(
    spawn: Spawn, settings: Settings, storage: Repositories, tmp_path: Path
) -> None:
    pid_file = tmp_path / "run-pids"
    env = {
        "WORK_RUN_PID_FILE": str(pid_file),
        "WORK_RUN_SLEEP": "30",
        "LOOKOUT_RUN_LEASE": "1.5",
    }
    worker = start_worker(spawn, settings, LOCATION, queues=settings.run_queue, env=env)
    jobs = ["count_job", "count_job", "slow_job", "count_job", "count_job"]
    run_ids = _queued_runs(storage, jobs)
    app = make_celery(settings)
    try:
        run_submitter(app, settings)(run_ids, pack=len(run_ids))
    finally:
        app.close()
    wait_for(lambda: len(pids_in(pid_file)) == 1, 20, what="the slow run to start")
    (victim,) = pids_in(pid_file)
    assert victim != worker.pid
    assert storage.metrics.run_counts()["SUCCESS"] == 2  # the two before it
    os.kill(victim, signal.SIGKILL)

    slow = run_ids[2]
    fast = [r for r in run_ids if r != slow]
    wait_for(lambda: storage.metrics.run_counts()["SUCCESS"] == 4, 30, what="the other runs")
    wait_for(lambda: storage.metrics.run_counts()["FAILURE"] == 1, 30, what="the cut-off run")
    _once_each(storage, run_ids, ("QUEUED", "STARTED"))
    _once_each(storage, fast, ("SUCCESS",))
    _once_each(storage, [slow], ("FAILURE",))
    cut_off = storage.runs.get(slow)
    assert cut_off is not None and cut_off.error is not None
    assert "stopped while it ran" in cut_off.error and f":{victim}:" in (cut_off.worker or "")
    assert pids_in(pid_file) == [victim]  # never started again
    assert storage.metrics.run_counts()["QUEUED"] == 0


def _metric(figures: Any, name: str) -> float:
    (family,) = [m for m in state_metrics(figures) if m.name == name]
    return float(family.samples[0].value)


def _queues(settings: Settings, limit: int) -> str:
    """What ``lookout queues`` prints, with the bound set."""
    env = process_env(settings, LOOKOUT_RUN_QUEUE_LIMIT=str(limit))
    argv = [sys.executable, "-m", "lookout", "queues"]
    done = subprocess.run(
        argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def _launcher_paused(storage: Repositories) -> str:
    (launcher,) = [p for p in storage.processes.heartbeats() if p.role == "launcher"]
    return launcher.details.get("paused", "")


def test_the_launcher_pauses_at_the_run_queue_bound_and_resumes_as_runs_are_taken(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    limit = 20
    env = {
        "LOOKOUT_RUN_QUEUE_LIMIT": str(limit),
        "LOOKOUT_LAUNCH_BATCH": "8",
        "LOOKOUT_HEARTBEAT_INTERVAL": "0.5",
    }
    bounded = Settings(**{**settings.__dict__, "run_queue_limit": limit})
    run_ids = _burst(storage, settings, 50)
    start_launcher(spawn, settings, LOCATION, env=env)
    wait_for(lambda: storage.metrics.run_counts()["QUEUED"] == limit, 20, what="the bound")
    wait_for(lambda: _launcher_paused(storage) == "1", 10, what="the paused heartbeat")
    # It reads no more than the room left: the rest wait on the launch stream.
    time.sleep(1.0)
    assert storage.metrics.run_counts()["QUEUED"] == limit
    assert storage.metrics.launch_backlog(settings.launch_group).undelivered == 50 - limit

    figures = read_figures(storage.metrics, storage.processes, bounded)
    assert figures.launch_paused and _metric(figures, "lookout_launch_paused") == 1
    assert _metric(figures, "lookout_run_queue_limit") == limit
    assert "PAUSED: runs QUEUED 20 >= bound 20" in _queues(settings, limit)
    assert json.loads(json.dumps(figures.to_json()))["launch_paused"] is True

    start_worker(spawn, settings, LOCATION, concurrency=2, queues=settings.run_queue)
    wait_for(lambda: storage.metrics.run_counts()["SUCCESS"] == 50, 60, what="50 runs")
    _once_each(storage, run_ids, ("QUEUED", "STARTED", "SUCCESS"))
    wait_for(lambda: _launcher_paused(storage) == "0", 10, what="the launcher to resume")
    figures = read_figures(storage.metrics, storage.processes, bounded)
    assert not figures.launch_paused and _metric(figures, "lookout_launch_paused") == 0
    assert figures.to_json()["launch_paused"] is False
