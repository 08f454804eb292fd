"""The launcher: one run per launch request, whatever dies when (invariant 4)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import pytest

from lookout import Settings
from lookout.testing import (
    LaunchRequest,
    Repositories,
    encode_value,
    load_definitions,
    tick_runner,
)
from lookout.workers.app import make_celery
from lookout.workers.runs import new_run, run_id_for, status_event
from tests.conftest import ROOT, Spawn, process_env, wait_for
from tests.locations.work_support import log_text, start_launcher, start_worker, status_events

LOCATION = "tests.locations.work_basic"
FAST_CLAIM = {"LOOKOUT_LAUNCH_CLAIM_IDLE": "1", "LOOKOUT_RUN_LEASE": "2"}


def _commit_bursts(storage: Repositories, settings: Settings, ticks: int, size: int) -> list[str]:
    """Commit ``ticks`` ticks of ``burst`` with ``size`` run requests each; the request ids."""
    os.environ["WORK_BURST"] = str(size)
    try:
        runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
        for _ in range(ticks):
            record = runner.tick("burst")
            assert record is not None and len(record.run_request_ids) == size
    finally:
        del os.environ["WORK_BURST"]
    return [r.request_id for _, r in storage.launches.requests(100_000)]


def _exactly_once(storage: Repositories, settings: Settings, request_ids: list[str]) -> None:
    """Every request has its run, ran once, and no run exists twice or without a request."""
    wanted = sorted(run_id_for(r) for r in request_ids)
    wait_for(
        lambda: storage.metrics.run_counts()["SUCCESS"] >= len(wanted),
        60,
        what=f"{len(wanted)} runs",
    )
    assert storage.client.zcard(storage.keys.runs) == len(wanted)
    assert sorted(r.run_id for r in storage.runs.recent(limit=100_000)) == wanted
    for status in ("QUEUED", "STARTED", "SUCCESS"):
        per_run = Counter(e.run_id for e in status_events(storage, status))
        assert sorted(per_run) == wanted and set(per_run.values()) == {1}, status
    wait_for(lambda: storage.launches.pending(settings.launch_group) == 0, 10, what="acks")


def _wait_blocked_reader(storage: Repositories) -> None:
    def blocked() -> bool:
        clients = storage.client.client_list()
        return any(c.get("cmd") == "xreadgroup" and "b" in c.get("flags", "") for c in clients)

    wait_for(blocked, 15, what="the launcher to block in XREADGROUP")


def test_entries_pending_at_a_killed_launcher_are_launched_by_another_exactly_once(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    doomed = start_launcher(spawn, settings, LOCATION, env={"LOOKOUT_LAUNCH_BATCH": "50"})
    _wait_blocked_reader(storage)
    # Frozen while blocked in XREADGROUP: Redis hands it the first 50 new
    # entries, which stay pending in its name when it is killed.
    os.kill(doomed.pid, signal.SIGSTOP)
    request_ids = _commit_bursts(storage, settings, ticks=3, size=100)
    wait_for(lambda: storage.launches.pending(settings.launch_group) == 50, 10, what="pending")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(10)
    assert storage.client.zcard(storage.keys.runs) == 0

    start_worker(spawn, settings, LOCATION, concurrency=2, queues=settings.run_queue)
    survivors = [start_launcher(spawn, settings, LOCATION, env=FAST_CLAIM) for _ in range(2)]
    _exactly_once(storage, settings, request_ids)
    assert any("claimed 50 launch entries" in log_text(p) for p in survivors)
    assert all(p.poll() is None for p in survivors)


def test_a_launcher_that_died_between_its_steps_leaves_runs_that_still_run_once(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    from lookout.workers.launcher import run_submitter

    request_ids = _commit_bursts(storage, settings, ticks=1, size=30)
    # A launcher that read 30 entries and died: after reading (10), after
    # creating the runs (10), after also enqueueing them but before marking
    # them enqueued (10).  Nothing was acknowledged.
    group = settings.launch_group
    storage.launches.ensure_group(group)
    entries = storage.launches.read(group, "dead-launcher", 30, 0.1)
    assert len(entries) == 30
    definitions = load_definitions(module=LOCATION)
    now = time.time()
    records = [new_run(launch, definitions, now) for launch in _launches(entries)]
    storage.runs.create([(r, status_event(r, r.status, now)) for r in records[10:]])
    app = make_celery(settings)
    run_submitter(app, settings)([r.run_id for r in records[20:]])
    app.close()

    start_worker(spawn, settings, LOCATION, concurrency=2, queues=settings.run_queue)
    start_launcher(spawn, settings, LOCATION, env=FAST_CLAIM)
    _exactly_once(storage, settings, request_ids)
    created = {r.run_id: r.created_at for r in storage.runs.recent(limit=100)}
    assert all(created[r.run_id] == pytest.approx(now) for r in records[10:])


def test_a_launcher_trims_the_entries_it_launched_within_seconds_not_at_housekeeping(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    # Housekeeping every 10 s (half the claim idle, at most 10 s): launched
    # entries left that long fill Redis at a thousand runs a second.
    start_launcher(spawn, settings, LOCATION, env={"LOOKOUT_LAUNCH_CLAIM_IDLE": "60"})
    _wait_blocked_reader(storage)
    _commit_bursts(storage, settings, ticks=1, size=50)
    wait_for(lambda: storage.client.zcard(storage.keys.runs) == 50, 10, what="50 runs")
    wait_for(lambda: storage.client.xlen(storage.keys.launch) == 0, 3, what="the stream trimmed")
    assert storage.launches.pending(settings.launch_group) == 0


def _launches(entries: list[tuple[str, dict[bytes, bytes]]]) -> list[LaunchRequest]:
    from lookout.workers.launcher import parse_launch

    return [parse_launch(fields) for _, fields in entries]


def test_unknown_jobs_fail_their_run_and_malformed_entries_are_dead_lettered(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    def launch(request_id: str, job: str, **extra: object) -> bytes:
        request = LaunchRequest(
            request_id=request_id,
            sensor="counter",
            tick_id="t-1",
            job_name=job,
            run_key=request_id,
            run_config={},
            tags={"dagster/sensor_name": "counter"},
            partition_key=None,
            created_at=time.time(),
        )
        return encode_value({**request.to_wire(), **extra})

    stream = storage.keys.launch
    storage.client.xadd(stream, {"d": launch("r-unknown", "no_such_job")})
    storage.client.xadd(stream, {"d": b"\xc1 not msgpack"})
    storage.client.xadd(stream, {"x": b"no d field"})
    storage.client.xadd(stream, {"d": encode_value({"request_id": "r-short"})})
    storage.client.xadd(stream, {"d": launch("r-badtags", "count_job", tags={"n": 1})})
    storage.client.xadd(stream, {"d": launch("r-good", "count_job")})
    launcher = start_launcher(spawn, settings, LOCATION)
    start_worker(spawn, settings, LOCATION, queues=settings.run_queue)

    wait_for(lambda: storage.metrics.run_counts()["SUCCESS"] == 1, 30, what="the good run")
    wait_for(lambda: storage.launches.pending(settings.launch_group) == 0, 10, what="acks")
    failed = storage.runs.get(run_id_for("r-unknown"))
    assert failed is not None and failed.status == "FAILURE"
    assert failed.error is not None and "job 'no_such_job' is not defined" in failed.error
    assert [e.run_id for e in status_events(storage, "FAILURE")] == [failed.run_id]
    assert storage.metrics.run_counts() == {
        "QUEUED": 0,
        "STARTED": 0,
        "SUCCESS": 1,
        "FAILURE": 1,
        "CANCELED": 0,
    }

    letters = [letter for _, letter in storage.dead_letters.newest()]
    assert len(letters) == 4
    assert {letter.source for letter in letters} == {"stream:launch"}
    reasons = " | ".join(letter.reason for letter in letters)
    assert "cannot decode msgpack payload" in reasons
    assert "entry has no 'd' field" in reasons
    assert "malformed LaunchRequest payload" in reasons
    assert "tags must map str to str" in reasons
    assert launcher.poll() is None

    # And it keeps launching.
    storage.client.xadd(stream, {"d": launch("r-later", "count_job")})
    wait_for(lambda: storage.metrics.run_counts()["SUCCESS"] == 2, 30, what="a later run")

    shown = subprocess.run(
        [sys.executable, "-m", "lookout", "dead-letters"],
        env=process_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert shown.count("stream:launch") == 4 and "entry has no 'd' field" in shown


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_launcher_waits_out_a_broker_it_cannot_reach_and_then_launches_each_entry_once(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    from lookout.workers.launcher import Launcher, run_submitter

    request_ids = _commit_bursts(storage, settings, ticks=2, size=10)
    dead_broker = make_celery(replace(settings, redis_url=f"redis://127.0.0.1:{_closed_port()}/0"))
    broker = make_celery(settings)
    calls: list[int] = []

    def submit(run_ids: Sequence[str], /, pack: int = 1) -> None:
        calls.append(len(run_ids))
        # kombu raises its own OperationalError for a broker it cannot reach.
        run_submitter(dead_broker if len(calls) <= 2 else broker, settings)(run_ids, pack)

    launcher = Launcher(
        load_definitions(module=LOCATION),
        settings,
        submit,
        launches=storage.launches,
        runs=storage.runs,
        events=storage.events,
        dead_letters=storage.dead_letters,
    )
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            launcher.run(stop, block=0.1)
        except BaseException as exc:
            failures.append(exc)
            raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        start_worker(spawn, settings, LOCATION, concurrency=2, queues=settings.run_queue)
        # The entries it read before the broker failed are its own pending ones: it
        # finishes them once the broker is back, not a claim timeout (30 s) later.
        wait_for(lambda: storage.metrics.run_counts()["SUCCESS"] == 20, 20, what="20 runs")
        assert failures == [] and thread.is_alive()
        assert len(calls) >= 3
        _exactly_once(storage, settings, request_ids)
    finally:
        stop.set()
        thread.join(10)
        dead_broker.close()
        broker.close()


def _finished_run(storage: Repositories, n: int, status: str, created: float) -> str:
    """A run of ``counter`` created at ``created`` and moved to ``status``."""
    launch = LaunchRequest(
        request_id=f"request-{n}",
        sensor="counter",
        tick_id="t-1",
        job_name="count_job",
        run_key=f"k{n}",
        run_config={},
        tags={},
        partition_key=None,
        created_at=created,
    )
    record = new_run(launch, load_definitions(module=LOCATION), created)
    storage.runs.create([(record, status_event(record, "QUEUED", created))])
    if status != "QUEUED":
        started = status_event(record, "STARTED", created)
        assert storage.runs.start(record.run_id, "w", created, 60, started) == "QUEUED"
        ended = status_event(record, status, created)
        assert storage.runs.finish(record.run_id, ("STARTED", status), created, ended) == "STARTED"
    return record.run_id


def _indexed(storage: Repositories, run_id: str) -> list[str]:
    """Every key that still names the run."""
    keys = [
        storage.keys.runs,
        storage.keys.runs_by_sensor("counter"),
        *(storage.keys.runs_by_status(s) for s in ("QUEUED", "STARTED", "SUCCESS", "FAILURE")),
    ]
    found = [k for k in keys if storage.client.zscore(k, run_id) is not None]
    return found + [k for k in (storage.keys.run(run_id),) if storage.client.exists(k)]


def test_finished_runs_older_than_the_retention_are_deleted_with_every_index_entry(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    now = time.time()
    old = now - 2 * 3600
    gone = [_finished_run(storage, i, "SUCCESS", old) for i in range(3)]
    gone += [_finished_run(storage, i, "FAILURE", old) for i in range(3, 5)]
    kept = [
        _finished_run(storage, 5, "QUEUED", old),  # not finished: never deleted
        _finished_run(storage, 6, "STARTED", old),
        _finished_run(storage, 7, "SUCCESS", now),  # finished, but recent
        _finished_run(storage, 8, "FAILURE", now - 60),
    ]
    env = {"LOOKOUT_RUN_RETENTION_SECONDS": "3600", "LOOKOUT_LAUNCH_CLAIM_IDLE": "1"}
    launcher = start_launcher(spawn, settings, LOCATION, env=env)

    wait_for(lambda: storage.client.zcard(storage.keys.runs) == 4, 15, what="old runs deleted")
    assert all(_indexed(storage, r) == [] for r in gone), [_indexed(storage, r) for r in gone]
    assert all(len(_indexed(storage, r)) == 4 for r in kept)
    assert sorted(r.run_id for r in storage.runs.recent(limit=100)) == sorted(kept)
    assert storage.metrics.run_counts() == {
        "QUEUED": 1,
        "STARTED": 1,
        "SUCCESS": 1,
        "FAILURE": 1,
        "CANCELED": 0,
    }
    assert "deleted 5 finished runs" in log_text(launcher)


def test_deleting_old_runs_goes_in_bounded_batches(
    settings: Settings, storage: Repositories
) -> None:
    old = time.time() - 100
    for i in range(5):
        _finished_run(storage, i, "SUCCESS", old)
    _finished_run(storage, 5, "FAILURE", old)
    assert storage.runs.delete_finished(old, 2) == 3  # two per finished status at most
    assert storage.runs.delete_finished(old, 2) == 2
    assert storage.runs.delete_finished(old, 2) == 1
    assert storage.runs.delete_finished(old, 2) == 0
    assert storage.client.zcard(storage.keys.runs) == 0


def test_runs_whose_run_message_was_lost_are_handed_again_and_still_run_once(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    request_ids = _commit_bursts(storage, settings, ticks=1, size=10)
    env = {**FAST_CLAIM, "LOOKOUT_RUN_RESUBMIT_AFTER": "1"}
    launcher = start_launcher(spawn, settings, LOCATION, env=env)
    run_queue = f"{settings.key_prefix}celery:{settings.run_queue}"
    wait_for(lambda: storage.client.llen(run_queue) == 10, 10, what="10 run messages")
    storage.client.delete(run_queue)  # the broker lost them
    # Handed again (and again, while no worker takes them: a run may get
    # several messages), then each runs once.
    wait_for(lambda: storage.client.llen(run_queue) >= 20, 15, what="the runs handed again")
    assert "handing them again" in log_text(launcher)
    start_worker(spawn, settings, LOCATION, concurrency=2, queues=settings.run_queue, env=env)
    _exactly_once(storage, settings, request_ids)
    wait_for(lambda: storage.client.llen(run_queue) == 0, 20, what="the extra messages")
    _exactly_once(storage, settings, request_ids)
