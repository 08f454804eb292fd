"""A quick sensor and a sluggish one, for the order in which a worker commits a message's ticks.

``sluggish`` (and ``sluggish_b``) appends a line to ``WORK_SLOW_MARK`` as it starts (so a test
knows its evaluation is under way), then sleeps ``WORK_SLOW_SLEEP`` seconds.
"""

import os
import time

import lookout as dg


@dg.op
def noop() -> None:
    return None


@dg.job
def slow_test_job() -> None:
    noop()


@dg.sensor(job=slow_test_job, minimum_interval_seconds=1)
def quick() -> dg.SkipReason:
    return dg.SkipReason("nothing new")


def _slow() -> dg.SkipReason:
    mark = os.environ.get("WORK_SLOW_MARK")
    if mark:
        with open(mark, "a") as handle:
            handle.write(f"{time.time()}\n")
    time.sleep(float(os.environ.get("WORK_SLOW_SLEEP", "0")))
    return dg.SkipReason("slept")


@dg.sensor(job=slow_test_job, minimum_interval_seconds=1)
def sluggish() -> dg.SkipReason:
    return _slow()


@dg.sensor(job=slow_test_job, minimum_interval_seconds=1)
def sluggish_b() -> dg.SkipReason:
    return _slow()


defs = dg.Definitions(jobs=[slow_test_job], sensors=[quick, sluggish, sluggish_b])
