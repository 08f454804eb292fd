"""Sensors the core tick tests drive; behaviour is steered through environment variables."""

import os
import sys
import time

import lookout as dg


@dg.op
def noop() -> None:
    return None


@dg.job
def work() -> None:
    noop()


@dg.sensor(job=work, minimum_interval_seconds=1)
def keyed_a() -> list[dg.RunRequest]:
    return [dg.RunRequest(run_key=k) for k in os.environ.get("CORE_KEYS", "k1").split(",")]


@dg.sensor(job=work, minimum_interval_seconds=1)
def keyed_b() -> list[dg.RunRequest]:
    return [dg.RunRequest(run_key=k) for k in os.environ.get("CORE_KEYS", "k1").split(",")]


@dg.sensor(job=work)
def nested_cursor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    state = context.cursor or {"n": 0, "history": [], "meta": {"bytes": b"\x00\xff", "f": 1.5}}
    state["n"] += 1
    state["history"].append({"tick": state["n"], "unicode": "é✓", "none": None})
    context.update_cursor(state)
    return dg.SkipReason(f"tick {state['n']}")


@dg.sensor(job=work)
def flaky(context: dg.SensorEvaluationContext) -> dg.RunRequest:
    if os.environ.get("CORE_FAIL") == "1":
        raise RuntimeError("the upstream API is down")
    context.update_cursor("after-success")
    return dg.RunRequest(run_key=f"flaky-{time.time_ns()}")


@dg.sensor(job=work)
def sleepy() -> None:
    time.sleep(float(os.environ.get("CORE_SLEEP", "30")))


@dg.sensor(job=work)
def skipper() -> dg.SkipReason:
    return dg.SkipReason("nothing new under the sun")


@dg.sensor(job=work)
def partitioned() -> dg.RunRequest:
    return dg.RunRequest(run_key="p1", partition_key="2024-05-01", tags={"team": "data"})


@dg.sensor(job=work)
def swallower() -> None:
    # Catches every Exception, as careless code does: the timeout must get through.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            time.sleep(10)
        except Exception:  # the point of this sensor
            continue


@dg.sensor(job=work)
def stubborn() -> None:
    # Catches even BaseException: only ending the process stops it.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            time.sleep(10)
        except BaseException:  # the point of this sensor
            continue


@dg.sensor(job=work)
def exiter() -> None:
    sys.exit(3)


defs = dg.Definitions(
    jobs=[work],
    sensors=[
        keyed_a,
        keyed_b,
        nested_cursor,
        flaky,
        sleepy,
        skipper,
        partitioned,
        swallower,
        stubborn,
        exiter,
    ],
)
