"""A herd: ``HERD_SIZE`` sensors (1,000 by default) of one 10 s interval, all RUNNING.

Each skips at once; the jitter acceptance test measures when their ticks start.
"""

import os
import time

import lookout as dg

INTERVAL = 10


def _member(number: int) -> dg.SensorDefinition[[], dg.SkipReason]:
    @dg.sensor(
        name=f"herd_{number:04d}",
        minimum_interval_seconds=INTERVAL,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def member() -> dg.SkipReason:
        # A reason of its own per tick: the test reads every tick's start from
        # the history, which folds a run of like skips into one record.
        return dg.SkipReason(f"quiet at {time.time_ns()}")

    return member


defs = dg.Definitions(sensors=[_member(i) for i in range(int(os.environ.get("HERD_SIZE", "1000")))])
