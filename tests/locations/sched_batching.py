"""Trivial sensors in two groups, for the scheduler's batch-size tests.

``bulk_<i>`` (``SCHED_BULK`` of them, 1 hour interval): all due at once when
the scheduler starts, a backlog of more than a round; ``steady_<i>``
(``SCHED_STEADY`` of them, 1 s interval): a few due each second after that.
Every evaluation skips.
"""

from __future__ import annotations

import os
from typing import Any

import lookout as dg

RUNNING = dg.DefaultSensorStatus.RUNNING


def nothing_new() -> dg.SkipReason:
    return dg.SkipReason("nothing new")


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
