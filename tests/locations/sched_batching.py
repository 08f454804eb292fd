"""Trivial sensors in two groups, for the scheduler's batch-size tests.

``bulk_<i>`` (``SCHED_BULK`` of them, 1 hour interval): all due at once when
the scheduler starts, a backlog of more than a round; ``steady_<i>``
(``SCHED_STEADY`` of them, 1 s interval): a few due each second after that.
Every evaluation skips, each with a reason of its own: the history folds a
run of like skips into one record, and the tests count every tick.
"""

from __future__ import annotations

import os
import time
from typing import Any

import lookout as dg

RUNNING = dg.DefaultSensorStatus.RUNNING


def nothing_new() -> dg.SkipReason:
    return dg.SkipReason(f"nothing new at {time.time_ns()}")


def group(prefix: str, count: int, interval: int) -> list[dg.SensorDefinition[Any, Any]]:
    return [
        dg.sensor(name=f"{prefix}_{i}", minimum_interval_seconds=interval, default_status=RUNNING)(
            nothing_new
        )
        for i in range(count)
    ]


defs = dg.Definitions(
    sensors=group("bulk", int(os.environ.get("SCHED_BULK", "0")), 3600)
    + group("steady", int(os.environ.get("SCHED_STEADY", "0")), 1)
)
