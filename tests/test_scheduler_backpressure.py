"""Back-pressure: while too many run requests wait on the launch stream, or the
tick queue is at its bound, due sensors wait.

The leader claims no tick while the launchers are behind: the due sensors
are put back and counted as deferred (a metric), and ticking resumes once
the stream is below its limit, instead of Redis filling with run requests.
While the workers are behind (the tick queue holds its bound's messages) it
claims nothing either, and the due sensors stay due as they are: they tick
late once the queue drains.  ``test_tick_backpressure.py`` runs the latter
with real workers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import lookout as dg
from lookout import Settings
from lookout._tools.monitor.collector import state_metrics
from lookout._tools.monitor.figures import read_figures
from lookout.scheduler import Scheduler
from lookout.testing import Repositories


def make_sensor(name: str) -> dg.SensorDefinition[Any, Any]:
    def fn() -> dg.SkipReason:
        return dg.SkipReason("nothing new")

    running = dg.DefaultSensorStatus.RUNNING
    return dg.sensor(name=name, minimum_interval_seconds=1, default_status=running)(fn)


@contextmanager
def two_sensor_scheduler(
    storage: Repositories, settings: Settings, launch_backlog_limit: int
) -> Iterator[Scheduler]:
    """A scheduler of sensors ``a`` and ``b`` at ``launch_backlog_limit``, closed after."""
    defs = dg.Definitions(sensors=[make_sensor("a"), make_sensor("b")])
    limited = replace(settings, launch_backlog_limit=launch_backlog_limit)
    scheduler = Scheduler.on(defs, limited, storage)
    try:
        yield scheduler
    finally:
        scheduler.publisher.close()


def test_sensors_are_deferred_while_the_launch_stream_is_over_its_limit(
    storage: Repositories, settings: Settings
) -> None:
    with two_sensor_scheduler(storage, settings, 5) as scheduler:
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


def _launch_entries(storage: Repositories, count: int) -> None:
    for i in range(count):
        storage.client.xadd(storage.keys.launch, {"d": f"request {i}".encode()})


def test_run_requests_already_launched_do_not_hold_the_sensors_back(
    storage: Repositories, settings: Settings
) -> None:
    # A fast launcher leaves launched entries in the stream until its next
    # trim: counted, they deferred every tick while the executors ran dry.
    with two_sensor_scheduler(storage, settings, 5) as scheduler:
        group = settings.launch_group
        storage.launches.ensure_group(group)
        _launch_entries(storage, 6)
        read = storage.launches.read(group, "launcher-1", 6, 0.1)
        storage.launches.ack(group, [entry_id for entry_id, _ in read])
        assert storage.client.xlen(storage.keys.launch) == 6
        scheduler.run_once()
        assert scheduler.lock.leading
        assert scheduler.stats.ticks == 2 and scheduler.stats.deferred == 0


def test_run_requests_unread_or_unacknowledged_by_the_launchers_defer_the_sensors(
    storage: Repositories, settings: Settings
) -> None:
    with two_sensor_scheduler(storage, settings, 5) as scheduler:
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


def held_back_gauge(storage: Repositories, settings: Settings) -> float:
    figures = read_figures(storage.metrics, storage.processes, settings)
    [gauge] = [m for m in state_metrics(figures) if m.name == "lookout_ticks_held_back"]
    return float(gauge.samples[0].value)


def test_no_tick_is_claimed_while_the_tick_queue_is_at_its_bound(
    storage: Repositories, settings: Settings
) -> None:
    defs = dg.Definitions(sensors=[make_sensor(n) for n in ("a", "b", "c")])
    # One tick per round and per message, a bound of one message (no worker
    # heartbeats: one process counted).
    tight = replace(settings, tick_queue_limit=1, schedule_limit=1, tick_batch_size=1)
    scheduler = Scheduler.on(defs, tight, storage)
    queue = storage.keys.celery_queue(settings.tick_queue)
    try:
        scheduler.run_once()  # leads, syncs and publishes one tick
        assert scheduler.stats.ticks == 1 and storage.client.llen(queue) == 1
        names = ["a", "b", "c"]
        waiting = [
            n
            for n, d in zip(names, storage.schedule.due_times(names), strict=True)
            if d is not None
        ]
        assert len(waiting) == 2
        due_before = storage.schedule.due_times(waiting)
        pause = scheduler.run_once()
        # The workers are behind: nothing claimed, the due sensors stay due as they were.
        assert scheduler.held_back and scheduler.stats.held_back == 1
        assert scheduler.stats.ticks == 1 and storage.client.llen(queue) == 1
        assert storage.schedule.due_times(waiting) == due_before
        assert storage.metrics.sensor_counts().deferred == 0
        assert 0 < pause <= 0.05  # it looks again soon, not at the next due time
        assert held_back_gauge(storage, tight) == 1
        # A worker takes the message: claiming resumes, oldest due first.
        storage.client.rpop(queue)
        assert held_back_gauge(storage, tight) == 0
        scheduler.run_once()
        assert not scheduler.held_back and scheduler.stats.ticks == 2
    finally:
        scheduler.publisher.close()
