"""Schedules and dynamic partitions through real schedulers, workers and a launcher.

The cron schedule's test takes about three minutes: it fires once a minute.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import time

import pytest

from lookout import Settings
from lookout._base.wire import DefaultSensorStatus
from lookout._tools.location import load_definitions
from lookout._tools.operator import set_sensor_status
from lookout.testing import Repositories
from tests.conftest import Process, Spawn, process_env, start_ready, wait_for
from tests.locations.work_support import start_launcher

LOCATION = "tests.locations.sched_cron"
SCHEDULED = ".dagster/scheduled_execution_time"


def start(spawn: Spawn, env: dict[str, str], role: str, *extra: str) -> Process:
    ready = {"scheduler": "started with", "worker": " ready."}[role]
    args = ["lookout", role, "-m", LOCATION, *extra]
    return start_ready(spawn, args, env, ready, f"the {role} to start", role)


def scheduled_times(storage: Repositories) -> list[str]:
    """The scheduled time of every run the schedule launched (the launcher's run records)."""
    return [r.tags[SCHEDULED] for r in storage.runs.recent(sensor="every_minute", limit=100)]


@pytest.mark.long
def test_every_minute_under_two_schedulers_one_killed_launches_one_run_a_minute(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    env = process_env(
        settings,
        LOOKOUT_LEADER_TTL="5",
        LOOKOUT_LEADER_RENEW="1",
        LOOKOUT_HEARTBEAT_INTERVAL="0.5",
    )
    start(spawn, env, "worker", "-c", "2", "-Q", "ticks")
    start_launcher(spawn, settings, LOCATION)
    # Taken before the schedulers start: the first may lead, sync and pass a whole
    # minute while the second is still importing, long before the test sees a leader.
    spawned = time.time()
    schedulers = [start(spawn, env, "scheduler"), start(spawn, env, "scheduler")]
    wait_for(lambda: storage.leader.token() is not None, 15, what="a leader")
    led_by = time.time()

    # The first run, at the first whole minute after the leader synced.
    wait_for(lambda: len(scheduled_times(storage)) >= 1, 75, what="the first scheduled run")
    time.sleep(20)  # mid-minute
    leaders = [p for p in storage.processes.heartbeats() if p.role == "scheduler" and p.leader]
    assert len(leaders) == 1, leaders
    (leader,) = [p for p in schedulers if p.pid == leaders[0].pid]
    os.kill(leader.pid, signal.SIGKILL)
    leader.wait(5)
    killed_at = time.time()

    # Two more minutes under the standby, then a few seconds for a duplicate to show.
    wait_for(lambda: len(scheduled_times(storage)) >= 3, 140, what="three scheduled runs")
    time.sleep(8)
    times = scheduled_times(storage)
    assert len(times) == len(set(times)), f"a scheduled time launched twice: {times}"
    stamps = sorted(dt.datetime.fromisoformat(t).timestamp() for t in times)
    assert len(stamps) == 3, times
    assert [b - a for a, b in itertools.pairwise(stamps)] == [60.0, 60.0], times
    # No minute before the schedulers started is caught up; the first is the next
    # whole minute after the leader's sync; the leader died between the first and
    # the last, and the standby carried on.
    assert spawned < stamps[0] < led_by + 61
    assert stamps[0] < killed_at < stamps[2]
    # Tagged as Dagster tags a schedule's run; the history shows one SUCCESS per minute.
    runs = storage.runs.recent(sensor="every_minute", limit=100)
    assert all(r.tags["dagster/schedule_name"] == "every_minute" for r in runs)
    assert all(r.job_name == "tally_job" for r in runs)
    history = storage.ticks.history("every_minute", 100)
    assert sorted(t.due_at or 0 for t in history if t.status == "SUCCESS") == stamps
    print(f"scheduled times: {sorted(times)}; leader killed at {killed_at:.0f}")


def test_a_dynamic_partition_a_sensor_adds_on_a_worker_is_seen_by_the_next_tick(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    env = process_env(settings, DOCKS="d1,d2")
    defs = load_definitions(module=LOCATION)
    for name in ("dock_opener", "dock_reader"):
        set_sensor_status(defs, storage.sensors, name, DefaultSensorStatus.RUNNING)
    start(spawn, env, "worker", "-c", "2", "-Q", "ticks")
    start(spawn, env, "scheduler")

    def reader_launched() -> bool:
        return any(t.status == "SUCCESS" for t in storage.ticks.history("dock_reader"))

    wait_for(reader_launched, 30, what="a dock_reader tick that launched runs")
    assert storage.partitions.get_dynamic_partitions("docks") == ["d1", "d2"]
    by_sensor: dict[str, list[str | None]] = {}
    for _, launch in storage.launches.requests():
        by_sensor.setdefault(launch.sensor, []).append(launch.partition_key)
    assert by_sensor["dock_opener"] == ["d1", "d2"]  # its run keys: once each
    assert by_sensor["dock_reader"] == ["d1", "d2"]
