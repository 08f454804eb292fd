"""Sensors that take their process down with them, or try to, and a healthy neighbour.

``stubborn`` swallows even its timeout; ``in_c`` sits in C code that never
checks signals; ``exits`` ends its process; ``hog`` allocates without bound.
"""

import os

import lookout as dg


@dg.op
def noop() -> None:
    return None


@dg.job
def deadly_job() -> None:
    noop()


@dg.sensor(job=deadly_job, minimum_interval_seconds=1)
def stubborn() -> None:
    while True:
        try:
            while True:
                pass
        except BaseException:  # the point: it ignores its timeout
            continue


@dg.sensor(job=deadly_job, minimum_interval_seconds=1)
def in_c() -> None:
    sum(range(10**13))


@dg.sensor(job=deadly_job, minimum_interval_seconds=1)
def exits() -> None:
    os._exit(3)


@dg.sensor(job=deadly_job, minimum_interval_seconds=1)
def hog() -> None:
    chunks = []
    while True:
        chunks.append(bytearray(20 * 1024 * 1024))


@dg.sensor(job=deadly_job, minimum_interval_seconds=1)
def steady() -> dg.SkipReason:
    return dg.SkipReason("all quiet")


defs = dg.Definitions(jobs=[deadly_job], sensors=[stubborn, in_c, exits, hog, steady])
