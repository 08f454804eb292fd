"""Asset and run-failure sensors on the real runtime fire once per event, across a worker restart.

A scheduler ticks ``feeder`` (one partitioned upstream run and one failing run
per tick) and the two event sensors; the worker is restarted half way.  At
the end there is exactly one downstream run per materialization and one alert
run per failed run: none missed, none twice.
"""

from __future__ import annotations

import signal
import time
from collections import Counter

from lookout import DefaultSensorStatus, Settings
from lookout.testing import EventKind, Repositories
from tests.conftest import Spawn, process_env, wait_for
from tests.locations.work_support import all_events, start_launcher, start_worker

LOCATION = "tests.locations.work_events"
ENV = {"LOOKOUT_HEARTBEAT_INTERVAL": "0.5", "LOOKOUT_LEADER_TTL": "5", "LOOKOUT_LEADER_RENEW": "1"}


def _start(storage: Repositories, name: str) -> None:
    storage.sensors.sync(name, DefaultSensorStatus.STOPPED, 1.0)
    storage.sensors.set_status(name, DefaultSensorStatus.RUNNING, due_at=time.time())


def _successes(storage: Repositories, name: str) -> int:
    return sum(t.status == "SUCCESS" for t in storage.ticks.history(name, 1000))


def _balanced(storage: Repositories) -> bool:
    """Every materialization and failure so far has its one downstream or alert run."""
    events = all_events(storage)
    materialized = [e for e in events if e.kind == EventKind.ASSET_MATERIALIZATION.value]
    failed = [e for e in events if e.status == "FAILURE"]
    runs = storage.runs.recent(limit=10_000)
    downstream = [r for r in runs if r.job_name == "downstream_job"]
    alerts = [r for r in runs if r.job_name == "alert_job"]
    return len(downstream) == len(materialized) and len(alerts) == len(failed)


def test_asset_and_run_failure_sensors_fire_once_per_event_across_a_worker_restart(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    worker = start_worker(spawn, settings, LOCATION, concurrency=3, env=ENV)
    start_launcher(spawn, settings, LOCATION, env=ENV)
    spawn(["lookout", "scheduler", "-m", LOCATION], process_env(settings, **ENV), "scheduler")
    # The event sensors' first ticks start them at the newest event (none yet).
    for name in ("on_upstream", "on_failure"):
        _start(storage, name)
    wait_for(
        lambda: all(
            storage.sensors.state(n).cursor is not None for n in ("on_upstream", "on_failure")
        ),
        20,
        what="the event sensors' first ticks",
    )
    _start(storage, "feeder")
    wait_for(lambda: _successes(storage, "feeder") >= 3, 20, what="three feeder ticks")

    worker.send_signal(signal.SIGTERM)  # a warm shutdown: it finishes what it holds
    worker.wait(30)
    start_worker(spawn, settings, LOCATION, concurrency=3, env=ENV)
    wait_for(lambda: _successes(storage, "feeder") >= 6, 20, what="six feeder ticks")
    storage.sensors.set_status("feeder", DefaultSensorStatus.STOPPED, due_at=time.time())

    wait_for(
        lambda: storage.sensors.state("feeder").inflight is None, 10, what="the last feeder tick"
    )
    wait_for(lambda: _balanced(storage), 30, what="every event to have its one run")
    time.sleep(2.5)  # the event sensors tick twice more: nothing new may fire
    assert _balanced(storage)

    events = all_events(storage)
    materialized = {
        e.run_id: e.partition for e in events if e.kind == EventKind.ASSET_MATERIALIZATION.value
    }
    failed = {e.run_id for e in events if e.status == "FAILURE"}
    feeder_ticks = _successes(storage, "feeder")
    assert len(materialized) == feeder_ticks and len(failed) == feeder_ticks
    runs = storage.runs.recent(limit=10_000)
    downstream = Counter(r.tags["upstream_run"] for r in runs if r.job_name == "downstream_job")
    assert set(downstream) == set(materialized) and set(downstream.values()) == {1}
    partitions = {
        r.tags["upstream_run"]: r.tags["upstream_partition"]
        for r in runs
        if r.job_name == "downstream_job"
    }
    assert partitions == materialized
    alerts = Counter(r.tags["failed_run"] for r in runs if r.job_name == "alert_job")
    assert set(alerts) == failed and set(alerts.values()) == {1}
