"""Back-pressure: while too many run requests wait on the launch stream, due sensors wait.

The leader claims no tick while the launchers are behind: the due sensors
are put back and counted as deferred (a metric), and ticking resumes once
the stream is below its limit, instead of Redis filling with run requests.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import lookout as dg
from lookout import Settings
from lookout.scheduler import Scheduler
from lookout.testing import Repositories


def make_sensor(name: str) -> dg.SensorDefinition[Any, Any]:
    def fn() -> dg.SkipReason:
        return dg.SkipReason("nothing new")

    running = dg.DefaultSensorStatus.RUNNING
    return dg.sensor(name=name, minimum_interval_seconds=1, default_status=running)(fn)


def test_sensors_are_deferred_while_the_launch_stream_is_over_its_limit(
    storage: Repositories, settings: Settings
) -> None:
    defs = dg.Definitions(sensors=[make_sensor("a"), make_sensor("b")])
    scheduler = Scheduler.on(defs, replace(settings, launch_backlog_limit=5), storage)
    try:
        for i in range(5):
            storage.client.xadd(storage.keys.launch, {"d": f"waiting {i}".encode()})
        scheduler.run_once()  # leads, syncs, and finds the launchers behind
        assert scheduler.lock.leading
        assert scheduler.stats.ticks == 0 and scheduler.stats.deferred == 2
        assert storage.metrics.sensor_counts().deferred == 2
        assert storage.client.zcard(storage.keys.inflight) == 0
        due = storage.schedule.due_times(["a", "b"])
        assert all(d is not None and d > time.time() for d in due)
        # The launchers catch up: ticking resumes.
        storage.client.xtrim(storage.keys.launch, maxlen=4, approximate=False)
        time.sleep(1.1)
        scheduler.run_once()
        assert scheduler.stats.ticks == 2 and scheduler.stats.deferred == 2
    finally:
        scheduler.publisher.close()


def _launch_entries(storage: Repositories, count: int) -> None:
    for i in range(count):
        storage.client.xadd(storage.keys.launch, {"d": f"request {i}".encode()})


def test_run_requests_already_launched_do_not_hold_the_sensors_back(
    storage: Repositories, settings: Settings
) -> None:
    # A fast launcher leaves launched entries in the stream until its next
    # trim: counted, they deferred every tick while the executors ran dry.
    defs = dg.Definitions(sensors=[make_sensor("a"), make_sensor("b")])
    scheduler = Scheduler.on(defs, replace(settings, launch_backlog_limit=5), storage)
    try:
        group = settings.launch_group
        storage.launches.ensure_group(group)
        _launch_entries(storage, 6)
        read = storage.launches.read(group, "launcher-1", 6, 0.1)
        storage.launches.ack(group, [entry_id for entry_id, _ in read])
        assert storage.client.xlen(storage.keys.launch) == 6
        scheduler.run_once()
        assert scheduler.lock.leading
        assert scheduler.stats.ticks == 2 and scheduler.stats.deferred == 0
    finally:
        scheduler.publisher.close()


def test_run_requests_unread_or_unacknowledged_by_the_launchers_defer_the_sensors(
    storage: Repositories, settings: Settings
) -> None:
    defs = dg.Definitions(sensors=[make_sensor("a"), make_sensor("b")])
    scheduler = Scheduler.on(defs, replace(settings, launch_backlog_limit=5), storage)
    try:
        group = settings.launch_group
        storage.launches.ensure_group(group)
        _launch_entries(storage, 5)
        # Two launched, three read by a launcher not done with them, two
        # unread: five wait, at the limit.
        done = storage.launches.read(group, "launcher-1", 2, 0.1)
        storage.launches.ack(group, [entry_id for entry_id, _ in done])
        reading = storage.launches.read(group, "launcher-1", 3, 0.1)
        _launch_entries(storage, 2)
        scheduler.run_once()
        assert scheduler.lock.leading
        assert scheduler.stats.ticks == 0 and scheduler.stats.deferred == 2
        # The launcher finishes the three: two wait, and ticking resumes.
        storage.launches.ack(group, [entry_id for entry_id, _ in reading])
        time.sleep(1.1)
        scheduler.run_once()
        assert scheduler.stats.ticks == 2 and scheduler.stats.deferred == 2
    finally:
        scheduler.publisher.close()
