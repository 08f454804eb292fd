"""Runs on real workers: statuses and materializations become events, once each."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lookout import Settings
from lookout._core.scripts import SCRIPTS
from lookout.testing import (
    RUN_TASK,
    LaunchRequest,
    Repositories,
    RunEvent,
    StoredRun,
    load_definitions,
    open_repositories,
    tick_runner,
)
from lookout.workers.runs import Delivery, RunExecutor, new_run, status_event
from tests.conftest import ROOT, Spawn, process_env, wait_for
from tests.locations.work_proxy import ReplyDropper
from tests.locations.work_support import (
    all_events,
    log_text,
    pids_in,
    start_launcher,
    start_worker,
)

BASIC = "tests.locations.work_basic"
EVENTS = "tests.locations.work_events"
ASSETS = "tests.locations.work_assets"


def _tick(storage: Repositories, settings: Settings, module: str, sensor: str) -> list[str]:
    record = tick_runner(load_definitions(module=module), storage, settings).tick(sensor)
    assert record is not None and record.status == "SUCCESS"
    return record.run_request_ids


def _events_of(storage: Repositories, run_id: str) -> list[RunEvent]:
    return [e for e in all_events(storage) if e.run_id == run_id]


def test_status_changes_and_materializations_are_events_with_the_runs_tags_and_partition(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    start_worker(spawn, settings, EVENTS, concurrency=2)
    start_launcher(spawn, settings, EVENTS)
    _tick(storage, settings, EVENTS, "feeder")
    wait_for(lambda: len(storage.runs.recent(status="SUCCESS")) == 1, 20, what="upstream run")
    wait_for(lambda: len(storage.runs.recent(status="FAILURE")) == 1, 20, what="flaky run")

    (upstream,) = storage.runs.recent(status="SUCCESS")
    assert upstream.job_name == "upstream_job" and upstream.partition_key == "p1"
    assert upstream.started_at is not None and upstream.ended_at is not None
    events = _events_of(storage, upstream.run_id)
    kinds = [(e.kind, e.status) for e in events]
    assert kinds == [
        ("RUN_STATUS", "QUEUED"),
        ("RUN_STATUS", "STARTED"),
        ("ASSET_MATERIALIZATION", None),
        ("RUN_STATUS", "SUCCESS"),
    ]
    materialized = events[2]
    assert materialized.asset_key == "upstream" and materialized.partition == "p1"
    assert materialized.tags["dagster/partition"] == "p1"
    assert materialized.tags["dagster/sensor_name"] == "feeder"
    assert materialized.sensor == "feeder" and materialized.run_key == "u1"

    (flaky,) = storage.runs.recent(status="FAILURE", sensor="feeder")
    assert flaky.job_name == "flaky_job"
    assert flaky.error is not None and "flaky op failed on purpose" in flaky.error
    failure = _events_of(storage, flaky.run_id)[-1]
    assert failure.status == "FAILURE" and failure.message == flaky.error
    assert {r.run_id for r in storage.runs.recent(sensor="feeder")} == {
        upstream.run_id,
        flaky.run_id,
    }


def test_a_run_delivered_again_after_it_finished_does_nothing(
    spawn: Spawn, settings: Settings, storage: Repositories, app: Any
) -> None:
    worker = start_worker(spawn, settings, BASIC)
    start_launcher(spawn, settings, BASIC)
    _tick(storage, settings, BASIC, "counter")
    wait_for(lambda: storage.metrics.run_counts()["SUCCESS"] == 1, 20, what="the run")
    (listed,) = storage.runs.recent()
    run = storage.runs.get(listed.run_id)  # with its log lines, which listings leave out
    assert run is not None and run.logs[-1].endswith("EVENT   RUN_SUCCESS")
    before = all_events(storage)
    for _ in range(3):
        app.send_task(RUN_TASK, args=[run.run_id], queue=settings.run_queue)
    wait_for(lambda: log_text(worker).count("'settled'") == 3, 20, what="three redeliveries")
    assert all_events(storage) == before
    assert storage.runs.get(run.run_id) == run


def test_a_run_whose_worker_process_is_killed_fails_instead_of_running_twice(
    spawn: Spawn, settings: Settings, storage: Repositories, tmp_path: Path
) -> None:
    pid_file = tmp_path / "run-pids"
    env = {
        "WORK_RUN_PID_FILE": str(pid_file),
        "WORK_RUN_SLEEP": "30",
        "LOOKOUT_RUN_LEASE": "1.5",
    }
    worker = start_worker(spawn, settings, BASIC, queues=settings.run_queue, env=env)
    start_launcher(spawn, settings, BASIC)
    _tick(storage, settings, BASIC, "slow_runs")
    wait_for(lambda: len(pids_in(pid_file)) == 1, 20, what="the run to start")
    (victim,) = pids_in(pid_file)
    assert victim != worker.pid
    os.kill(victim, signal.SIGKILL)

    wait_for(lambda: storage.metrics.run_counts()["FAILURE"] == 1, 20, what="the run to fail")
    (run,) = storage.runs.recent()
    assert run.error is not None and "stopped while it ran" in run.error
    assert f":{victim}:" in (run.worker or "")
    assert pids_in(pid_file) == [victim]  # never started a second time
    assert [e.status for e in _events_of(storage, run.run_id)] == [
        "QUEUED",
        "STARTED",
        "FAILURE",
    ]
    assert worker.poll() is None


def test_runs_list_and_show_commands(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    start_worker(spawn, settings, EVENTS, concurrency=2)
    start_launcher(spawn, settings, EVENTS)
    _tick(storage, settings, EVENTS, "feeder")
    wait_for(lambda: storage.metrics.run_counts()["FAILURE"] == 1, 20, what="the runs")
    wait_for(lambda: storage.metrics.run_counts()["SUCCESS"] == 1, 20, what="the runs")

    def lookout(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "lookout", *args],
            env=process_env(settings),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    listing = lookout("runs", "list")
    assert "upstream_job" in listing and "flaky_job" in listing
    failed = lookout("runs", "list", "--status", "failure")
    assert "flaky_job" in failed and "upstream_job" not in failed
    assert "step 'explode' failed: ValueError" in failed
    assert lookout("runs", "list", "--sensor", "nobody").splitlines()[1:] == []
    (flaky,) = storage.runs.recent(status="FAILURE")
    shown = lookout("runs", "show", flaky.run_id)
    assert f"run {flaky.run_id}" in shown and "status     FAILURE" in shown
    assert "ValueError" in shown and '"dagster/run_key": "f1"' in shown
    missing = subprocess.run(
        [sys.executable, "-m", "lookout", "runs", "show", "nope"],
        env=process_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert missing.returncode == 1 and "no run id starts with 'nope'" in missing.stderr


def _queued_run(storage: Repositories, module: str, job: str) -> StoredRun:
    """A QUEUED run of ``job``, created as a launcher creates it."""
    now = time.time()
    launch = LaunchRequest(
        request_id=uuid.uuid4().hex,
        sensor="tester",
        tick_id="t-1",
        job_name=job,
        run_key=None,
        run_config={},
        tags={},
        partition_key=None,
        created_at=now,
    )
    record = new_run(launch, load_definitions(module=module), now)
    (created,) = storage.runs.create([(record, status_event(record, record.status, now))])
    assert created.created and created.status == "QUEUED"
    return record


def _deliver_losing_one_reply(
    settings: Settings, storage: Repositories, module: str, run_id: str, script: str
) -> Delivery:
    """Deliver the run through a proxy that loses the reply to the first call of ``script``."""
    port = int(settings.redis_url.rsplit(":", 1)[1].split("/")[0])
    with ReplyDropper(port) as proxy:
        proxied = open_repositories(replace(settings, redis_url=proxy.url))
        try:
            # Loaded already, so the call whose reply is lost is the one that runs.
            storage.client.script_load(SCRIPTS[script])
            proxy.arm(hashlib.sha1(SCRIPTS[script].encode()).hexdigest().encode())
            delivery = RunExecutor(load_definitions(module=module), proxied.runs, settings).deliver(
                run_id
            )
        finally:
            proxied.client.close()
        assert proxy.dropped == 1
    return delivery


def test_a_run_whose_start_reply_was_lost_is_still_run_by_the_worker_that_started_it(
    settings: Settings, storage: Repositories
) -> None:
    run = _queued_run(storage, BASIC, "count_job")
    # redis-py sends RUN_START again after the lost reply: the run is STARTED by
    # this very executor, which must run it, not take it for someone else's.
    delivery = _deliver_losing_one_reply(settings, storage, BASIC, run.run_id, "run_start")
    assert delivery is Delivery.EXECUTED
    finished = storage.runs.get(run.run_id)
    assert finished is not None and finished.status == "SUCCESS"
    assert [e.status for e in _events_of(storage, run.run_id)] == ["QUEUED", "STARTED", "SUCCESS"]


def test_a_materialization_whose_reply_was_lost_is_reported_once(
    settings: Settings, storage: Repositories
) -> None:
    run = _queued_run(storage, ASSETS, "assets_job")
    delivery = _deliver_losing_one_reply(settings, storage, ASSETS, run.run_id, "run_emit")
    assert delivery is Delivery.EXECUTED
    kinds = [(e.kind, e.status, e.asset_key) for e in _events_of(storage, run.run_id)]
    assert kinds == [
        ("RUN_STATUS", "QUEUED", None),
        ("RUN_STATUS", "STARTED", None),
        ("ASSET_MATERIALIZATION", None, "raw"),
        ("ASSET_MATERIALIZATION", None, "clean"),
        ("ASSET_MATERIALIZATION", None, "report"),
        ("RUN_STATUS", "SUCCESS", None),
    ]


def test_starting_a_run_twice_for_one_executor_starts_it_once_and_another_is_refused(
    storage: Repositories,
) -> None:
    run = _queued_run(storage, BASIC, "count_job")
    now = time.time()
    started = status_event(run, "STARTED", now)
    assert storage.runs.start(run.run_id, "me", now, 10, started) == "QUEUED"
    assert storage.runs.start(run.run_id, "me", now, 10, started) == "QUEUED"
    assert storage.runs.start(run.run_id, "someone-else", now, 10, started) == "STARTED"
    assert [e.status for e in _events_of(storage, run.run_id)] == ["QUEUED", "STARTED"]
    record = storage.runs.get(run.run_id)
    assert record is not None and record.worker == "me"


def test_a_run_request_with_an_asset_selection_runs_only_those_assets(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    env = {"WORK_PICK": "raw,clean"}
    start_worker(spawn, settings, ASSETS, queues=settings.run_queue, env=env)
    start_launcher(spawn, settings, ASSETS)
    os.environ.update(env)
    try:
        (request_id,) = _tick(storage, settings, ASSETS, "pick")
    finally:
        del os.environ["WORK_PICK"]
    ((_, launch),) = storage.launches.requests()
    assert launch.request_id == request_id and launch.asset_selection == ["raw", "clean"]
    wait_for(lambda: storage.metrics.run_counts()["SUCCESS"] == 1, 20, what="the run")
    (run,) = storage.runs.recent()
    assert run.asset_selection == ["raw", "clean"]
    materialized = [e.asset_key for e in _events_of(storage, run.run_id) if e.asset_key]
    assert materialized == ["raw", "clean"]  # not report

    # No selection: the whole job.
    _tick(storage, settings, ASSETS, "pick")
    wait_for(lambda: storage.metrics.run_counts()["SUCCESS"] == 2, 20, what="the second run")
    whole = next(r for r in storage.runs.recent() if r.run_id != run.run_id)
    assert whole.asset_selection is None
    assert [e.asset_key for e in _events_of(storage, whole.run_id) if e.asset_key] == [
        "raw",
        "clean",
        "report",
    ]


@pytest.mark.parametrize(
    ("pick", "reason"),
    [
        ("nope", "asset_selection names ['nope'], which job 'assets_job' does not materialize"),
        ("clean", "asset 'clean' of job 'assets_job' takes the output of ['raw'] as input"),
    ],
)
def test_an_asset_selection_the_job_cannot_run_fails_the_tick_naming_the_sensor(
    settings: Settings,
    storage: Repositories,
    monkeypatch: pytest.MonkeyPatch,
    pick: str,
    reason: str,
) -> None:
    monkeypatch.setenv("WORK_PICK", pick)
    record = tick_runner(load_definitions(module=ASSETS), storage, settings).tick("pick")
    assert record is not None and record.status == "FAILURE"
    assert record.error is not None
    assert "sensor 'pick'" in record.error and reason in record.error, record.error
    assert storage.launches.requests() == []
    assert storage.sensors.state("pick").cursor is None
