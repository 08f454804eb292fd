"""Metrics scraped from ``lookout monitor`` while real processes carry a small load.

Two schedulers, two workers and a launcher tick 50 sensors at a 1 s interval.
While they run, the scrape must show ticks and their lateness, the live
processes and the leader that the heartbeats name.  Then the workers are
killed (their unacknowledged messages stay with kombu) and the rest stopped,
so the queues hold still, and every queue figure is compared with what Redis
says when asked directly.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from lookout import Settings
from lookout.testing import Repositories, free_port
from tests.conftest import Spawn, process_env, wait_for

LOCATION = Path(__file__).resolve().parent / "locations" / "monitor_sensors.py"
LOAD_SENSORS = 50

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(base: str) -> Samples:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def total(samples: Samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


def test_metrics_under_load_match_redis_and_name_the_leader(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    port = free_port()
    env = process_env(
        settings,
        LOOKOUT_FILE=str(LOCATION),
        LOOKOUT_MONITOR_PORT=str(port),
        MONITOR_LOAD_SENSORS=str(LOAD_SENSORS),
    )
    schedulers = [spawn(["lookout", "scheduler"], env, log_name="scheduler") for _ in range(2)]
    workers = [spawn(["lookout", "worker", "-c", "1"], env, log_name="worker") for _ in range(2)]
    launcher = spawn(["lookout", "launcher"], env, log_name="launcher")
    monitor = spawn(["lookout", "monitor"], env, log_name="monitor")
    base = f"http://127.0.0.1:{port}"

    def ticked(n: int) -> bool:
        try:
            return value(scrape(base), "lookout_tick_lateness_seconds_count") >= n
        except OSError:
            return False

    # Three rounds of every sensor, give or take.
    wait_for(lambda: ticked(3 * LOAD_SENSORS), 60, 0.5, "the monitor to count ticks")
    live = scrape(base)
    buckets = [v for (n, _), v in live.items() if n == "lookout_tick_lateness_seconds_bucket"]
    assert max(buckets) >= 3 * LOAD_SENSORS
    assert total(live, "lookout_ticks_total") >= 3 * LOAD_SENSORS
    assert value(live, "lookout_ticks_total", sensor="load_0", status="SKIPPED") >= 1
    assert value(live, "lookout_sensor_evaluation_duration_seconds_count", sensor="load_0") >= 1
    assert value(live, "lookout_run_requests_total", sensor="counter") >= 2
    assert value(live, "lookout_runs_launched_total") >= 1
    assert value(live, "lookout_processes", role="worker") == 2
    assert value(live, "lookout_processes", role="scheduler") == 2
    assert value(live, "lookout_processes", role="monitor") == 1
    [leader] = [p for p in storage.processes.heartbeats() if p.role == "scheduler" and p.leader]
    labels = {"process": leader.id, "host": leader.host, "pid": str(leader.pid)}
    assert value(live, "lookout_scheduler_leader") == 1
    assert value(live, "lookout_scheduler_leader_info", **labels) == 1
    assert value(live, "lookout_scheduler_leaders") == 1

    # Freeze the queues: workers die mid-flight, then the producers stop.
    for proc in workers:
        os.killpg(proc.pid, signal.SIGKILL)
    wait_for(
        lambda: (
            storage.metrics.celery_queue_lengths([settings.tick_queue])[settings.tick_queue] > 0
        ),
        20,
        0.1,
        "the scheduler to publish ticks no worker takes",
    )
    for proc in [*schedulers, launcher]:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in [*workers, *schedulers, launcher]:
        proc.wait(20)

    frozen = scrape(base)
    raw = storage.client
    celery_prefix = f"{settings.key_prefix}celery:"
    ticks_lists = list(raw.scan_iter(match=f"{celery_prefix}{settings.tick_queue}*"))
    ticks_waiting = sum(raw.llen(k) for k in ticks_lists if raw.type(k) == b"list")
    assert ticks_waiting > 0
    assert value(frozen, "lookout_queue_messages", queue="ticks") == ticks_waiting
    assert value(frozen, "lookout_queue_messages", queue="runs") == raw.llen(
        f"{celery_prefix}{settings.run_queue}"
    )
    unacked = [json.loads(v)[2] for v in raw.hvals(f"{celery_prefix}unacked")]
    for queue in (settings.tick_queue, settings.run_queue):
        assert value(frozen, "lookout_queue_unacked_messages", queue=queue) == unacked.count(queue)
    [group] = [g for g in raw.xinfo_groups(storage.keys.launch) if g["name"] == b"launchers"]
    assert value(frozen, "lookout_queue_messages", queue="launch") == group["lag"]
    assert value(frozen, "lookout_queue_unacked_messages", queue="launch") == group["pending"]
    assert value(frozen, "lookout_launch_stream_entries") == raw.xlen(storage.keys.launch)
    assert value(frozen, "lookout_queue_messages", queue="deadletter") == raw.xlen(
        storage.keys.dead_letters
    )
    assert value(frozen, "lookout_sensors_in_flight") == raw.zcard(storage.keys.inflight)
    assert value(frozen, "lookout_runs_launched_total") == raw.zcard(storage.keys.runs)
    assert monitor.poll() is None
    # The killed workers' heartbeats expire, and they drop out of the figures.
    wait_for(
        lambda: value(scrape(base), "lookout_processes", role="worker") == 0,
        15,
        0.5,
        "the killed workers to drop out",
    )
