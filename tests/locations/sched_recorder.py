"""Sensors that record each evaluation's start and end (and pid) in Redis, for scheduler tests.

Which sensors exist is steered by environment variables, read when the code
location is imported (the scheduler and the workers get the same ones):

- ``SCHED_FLEET``: how many ``fleet_<i>`` sensors (RUNNING, 1 s interval)
- ``SCHED_FLEET_EVAL``: how long each fleet evaluation takes (s)
- ``SCHED_SLOW_EVAL``: how long ``slow`` (RUNNING, 1 s interval) takes (s)
- ``SCHED_PUSHED_EVAL``: how long ``pushed`` (STOPPED, 1 s interval) takes (s)

Every evaluation appends ``"<start> <end> <pid>"`` to the list
``sched:evals:<sensor>`` of ``LOOKOUT_REDIS_URL``'s database.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import redis

import lookout as dg

RECORD_KEY = "sched:evals:{}"


def record(name: str, seconds: float) -> dg.SkipReason:
    start = time.time()
    time.sleep(seconds)
    end = time.time()
    client = redis.Redis.from_url(os.environ["LOOKOUT_REDIS_URL"])
    try:
        client.rpush(RECORD_KEY.format(name), f"{start:.6f} {end:.6f} {os.getpid()}")
    finally:
        client.close()
    # The start in the reason: each tick keeps a record of its own (the history
    # folds a run of like skips into one), and the tests read every tick.
    return dg.SkipReason(f"evaluated in {seconds:g} s from {start:.6f}")


def recording_sensor(
    name: str, seconds: float, status: dg.DefaultSensorStatus
) -> dg.SensorDefinition[Any, Any]:
    def evaluate() -> dg.SkipReason:
        return record(name, seconds)

    make: Callable[..., dg.SensorDefinition[Any, Any]] = dg.sensor(
        name=name, minimum_interval_seconds=1, default_status=status
    )
    return make(evaluate)


def sensors() -> list[dg.SensorDefinition[Any, Any]]:
    running, stopped = dg.DefaultSensorStatus.RUNNING, dg.DefaultSensorStatus.STOPPED
    fleet_eval = float(os.environ.get("SCHED_FLEET_EVAL", "0.05"))
    found = [
        recording_sensor(f"fleet_{i}", fleet_eval, running)
        for i in range(int(os.environ.get("SCHED_FLEET", "0")))
    ]
    if "SCHED_SLOW_EVAL" in os.environ:
        found.append(recording_sensor("slow", float(os.environ["SCHED_SLOW_EVAL"]), running))
    if "SCHED_PUSHED_EVAL" in os.environ:
        found.append(recording_sensor("pushed", float(os.environ["SCHED_PUSHED_EVAL"]), stopped))
    return found


defs = dg.Definitions(sensors=sensors())
