"""A herd: ``HERD_SIZE`` sensors (1,000 by default) of one 10 s interval, all RUNNING.

Each skips at once; the jitter acceptance test measures when their ticks start.
"""

import os

import lookout as dg

INTERVAL = 10


def _member(number: int) -> dg.SensorDefinition[[], dg.SkipReason]:
    @dg.sensor(
        name=f"herd_{number:04d}",
        minimum_interval_seconds=INTERVAL,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def member() -> dg.SkipReason:
        return dg.SkipReason("quiet")

    return member


defs = dg.Definitions(sensors=[_member(i) for i in range(int(os.environ.get("HERD_SIZE", "1000")))])
