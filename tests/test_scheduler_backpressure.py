"""Back-pressure: while the launch stream is over its limit, due sensors wait.

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
