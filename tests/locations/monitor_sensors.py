"""A code location for the monitor's tests.

``counter`` asks each tick for one run with a new run key and one with the
run key ``again``, so from its second tick on one request per tick is a
duplicate the commit drops.  ``quiet`` always skips, ``broken`` always
raises.  ``MONITOR_LOAD_SENSORS`` adds that many skipping sensors ``load_0``,
``load_1``, ... for load tests.
"""

import os
from typing import Any

import lookout as dg


@dg.op
def touch(context: dg.OpExecutionContext) -> str:
    return context.run_id


@dg.job
def touch_job() -> None:
    touch()


@dg.sensor(job=touch_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING)
def counter(context: dg.SensorEvaluationContext) -> list[dg.RunRequest]:
    n = int(context.cursor or 0) + 1
    context.update_cursor(str(n))
    return [dg.RunRequest(run_key=f"n{n}"), dg.RunRequest(run_key="again")]


@dg.sensor(job=touch_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING)
def quiet() -> dg.SkipReason:
    return dg.SkipReason("nothing new")


@dg.sensor(job=touch_job, minimum_interval_seconds=1)
def broken() -> None:
    raise RuntimeError("the bucket is gone")


def _load_sensor(i: int) -> dg.SensorDefinition[Any, Any]:
    @dg.sensor(
        job=touch_job,
        name=f"load_{i}",
        minimum_interval_seconds=1,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def load() -> dg.SkipReason:
        return dg.SkipReason("load")

    return load


defs = dg.Definitions(
    jobs=[touch_job],
    sensors=[
        counter,
        quiet,
        broken,
        *(_load_sensor(i) for i in range(int(os.environ.get("MONITOR_LOAD_SENSORS", "0")))),
    ],
)
