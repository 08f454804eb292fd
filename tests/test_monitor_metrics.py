"""The monitor's Prometheus metrics, read from a real Redis that real commits wrote.

Ticks are committed by the same ``TickRunner`` the workers use; queues are
filled by the same Celery app the scheduler publishes with; each figure is
compared with what Redis says when asked directly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from lookout import Definitions, Settings
from lookout._tools.monitor import create_app
from lookout.testing import (
    RUN_TASK,
    TICK_TASK,
    DeadLetter,
    EmbeddedRedis,
    EventKind,
    Heartbeat,
    Repositories,
    RunEvent,
    StoredRun,
    TickRunner,
    load_definitions,
    open_repositories,
    sync_definitions,
    tick_runner,
)
from lookout.workers.app import make_celery

LOCATION = Path(__file__).resolve().parent / "locations" / "monitor_sensors.py"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(app: TestClient) -> Samples:
    """Every sample of one scrape, by name and sorted labels."""
    response = app.get("/metrics")
    assert response.status_code == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def definitions(storage: Repositories) -> Definitions:
    defs = load_definitions(file=str(LOCATION))
    sync_definitions(defs, storage.sensors)
    return defs


@pytest.fixture
def runner(definitions: Definitions, storage: Repositories, settings: Settings) -> TickRunner:
    return tick_runner(definitions, storage, settings)


@pytest.fixture
def app(definitions: Definitions, storage: Repositories, settings: Settings) -> TestClient:
    """The monitor's web app, called in-process."""
    return TestClient(create_app(definitions, storage, settings))


def test_each_committed_tick_is_counted_once_with_its_lateness_and_duration(
    runner: TickRunner, app: TestClient
) -> None:
    for _ in range(3):
        runner.tick("counter", due_at=time.time() - 0.3)
        runner.tick("quiet", due_at=time.time() - 0.02)
    runner.tick("broken")  # from the CLI: no due time, so no lateness
    first = scrape(app)
    assert value(first, "lookout_tick_lateness_seconds_count") == 6
    assert value(first, "lookout_tick_lateness_seconds_bucket", le="0.25") == 3
    assert value(first, "lookout_tick_lateness_seconds_bucket", le="0.5") == 6
    assert value(first, "lookout_tick_lateness_seconds_sum") >= 3 * 0.3 + 3 * 0.02
    assert value(first, "lookout_ticks_total", sensor="counter", status="SUCCESS") == 3
    assert value(first, "lookout_ticks_total", sensor="quiet", status="SKIPPED") == 3
    assert value(first, "lookout_ticks_total", sensor="broken", status="FAILURE") == 1
    assert value(first, "lookout_run_requests_total", sensor="counter") == 6
    # "again" was launched by the first tick and dropped by the next two.
    assert value(first, "lookout_run_requests_dropped_total", sensor="counter") == 2
    for sensor in ("counter", "quiet", "broken"):
        count = value(first, "lookout_sensor_evaluation_duration_seconds_count", sensor=sensor)
        assert count == (1 if sensor == "broken" else 3)

    # A second scrape counts nothing twice, and then only what is new.
    again = scrape(app)
    ticking = [
        k
        for k in first
        if k[0].startswith(("lookout_tick", "lookout_run_requests", "lookout_sensor_eval"))
    ]
    assert {k: again[k] for k in ticking} == {k: first[k] for k in ticking}
    runner.tick("counter", due_at=time.time() - 2.0)
    later = scrape(app)
    assert value(later, "lookout_ticks_total", sensor="counter", status="SUCCESS") == 4
    assert value(later, "lookout_tick_lateness_seconds_count") == 7
    assert value(later, "lookout_tick_lateness_seconds_bucket", le="1.0") == 6
    assert value(later, "lookout_run_requests_dropped_total", sensor="counter") == 3


def test_queue_depths_equal_what_redis_holds(
    runner: TickRunner, app: TestClient, storage: Repositories, settings: Settings
) -> None:
    celery = make_celery(settings)
    try:
        for i in range(3):
            celery.send_task(TICK_TASK, args=[[]], priority=[0, 0, 7][i])
        for _ in range(2):
            celery.send_task(RUN_TASK, args=["run-id"])
    finally:
        celery.close()
    for _ in range(2):
        runner.tick("counter", due_at=time.time())
    storage.dead_letters.add(DeadLetter(source="queue:ticks", reason="test", payload=b"x", at=0.0))

    raw: redis.Redis = storage.client
    ticks_keys = list(raw.scan_iter(match=f"{settings.key_prefix}celery:ticks*"))
    assert len(ticks_keys) == 2  # the base list and one priority list
    in_redis = sum(raw.llen(k) for k in ticks_keys)
    samples = scrape(app)
    assert in_redis == 3
    assert value(samples, "lookout_queue_messages", queue="ticks") == in_redis
    assert value(samples, "lookout_queue_messages", queue="runs") == raw.llen(
        f"{settings.key_prefix}celery:runs"
    )
    launch_len = raw.xlen(storage.keys.launch)
    assert launch_len == 3  # n1, again, n2
    assert value(samples, "lookout_launch_stream_entries") == launch_len
    # No launcher has joined: every entry waits, the oldest since the first commit.
    assert value(samples, "lookout_queue_messages", queue="launch") == launch_len
    assert value(samples, "lookout_launch_oldest_pending_age_seconds") > 0
    assert value(samples, "lookout_queue_messages", queue="deadletter") == 1

    # A launcher reads one entry and has not acknowledged it yet.
    storage.launches.ensure_group(settings.launch_group)
    [(entry_id, _)] = storage.launches.read(settings.launch_group, "l1", count=1, block=0.1)
    samples = scrape(app)
    group = next(g for g in raw.xinfo_groups(storage.keys.launch) if g["name"] == b"launchers")
    assert value(samples, "lookout_queue_unacked_messages", queue="launch") == group["pending"]
    assert group["pending"] == 1
    assert value(samples, "lookout_queue_messages", queue="launch") == group["lag"] == 2
    age = value(samples, "lookout_launch_oldest_pending_age_seconds")
    assert 0 < age < time.time() - int(entry_id.split("-")[0]) / 1000 + 1


def test_live_processes_and_the_leader_come_from_heartbeats(
    app: TestClient, storage: Repositories
) -> None:
    workers = [Heartbeat(storage.processes, "worker").start() for _ in range(2)]
    leader = Heartbeat(storage.processes, "scheduler", leader=lambda: True).start()
    standby = Heartbeat(storage.processes, "scheduler", leader=lambda: False).start()
    try:
        samples = scrape(app)
        assert value(samples, "lookout_processes", role="worker") == 2
        assert value(samples, "lookout_processes", role="scheduler") == 2
        assert value(samples, "lookout_processes", role="launcher") == 0
        assert value(samples, "lookout_scheduler_leaders") == 1
        # One series whoever leads; which process it is, in the info metric.
        assert value(samples, "lookout_scheduler_leader") == 1
        labels = {"process": leader.id, "host": leader.host, "pid": str(leader.pid)}
        assert value(samples, "lookout_scheduler_leader_info", **labels) == 1
    finally:
        for beat in [*workers, leader, standby]:
            beat.stop()
    samples = scrape(app)
    assert value(samples, "lookout_processes", role="worker") == 0
    assert value(samples, "lookout_scheduler_leaders") == 0
    assert value(samples, "lookout_scheduler_leader") == 0
    assert not any(name == "lookout_scheduler_leader_info" for name, _ in samples)


def test_run_counts_by_status_come_from_the_run_indexes(
    app: TestClient, storage: Repositories
) -> None:
    now = time.time()
    runs = [
        (
            StoredRun(run_id=f"r{i}", job_name="touch_job", status=status, created_at=now),
            RunEvent(
                kind=EventKind.RUN_STATUS.value,
                run_id=f"r{i}",
                job_name="touch_job",
                timestamp=now,
                status=status,
            ),
        )
        for i, status in enumerate(["QUEUED", "QUEUED", "FAILURE", "QUEUED"])
    ]
    storage.runs.create(runs)
    samples = scrape(app)
    assert value(samples, "lookout_runs", status="QUEUED") == 3
    assert value(samples, "lookout_runs", status="FAILURE") == 1
    assert value(samples, "lookout_runs", status="SUCCESS") == 0
    assert value(samples, "lookout_runs_launched_total") == 4


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis().start()
    yield server
    server.stop()


def test_healthz_answers_200_while_redis_answers_and_503_at_once_when_it_is_gone(
    own_redis: EmbeddedRedis,
) -> None:
    settings = Settings(redis_url=own_redis.url)
    storage = open_repositories(settings)
    app = TestClient(create_app(Definitions(), storage, settings))
    assert app.get("/healthz").status_code == 200
    own_redis.stop()
    started = time.monotonic()
    response = app.get("/healthz")
    assert response.status_code == 503
    assert "redis" in response.text
    # Quick, not the storage's reconnect backoff: a healthcheck has seconds.
    assert time.monotonic() - started < 2.5
    storage.client.close()
