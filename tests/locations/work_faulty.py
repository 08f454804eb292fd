"""Sensors that fail in each way a user's code can, beside a healthy one."""

import time

import lookout as dg


@dg.op
def noop() -> None:
    return None


@dg.job
def faulty_job() -> None:
    noop()


@dg.sensor(
    job=faulty_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING
)
def raises() -> dg.RunRequest:
    raise RuntimeError("the bucket is not there")


@dg.sensor(
    job=faulty_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING
)
def hangs() -> None:
    time.sleep(3600)


@dg.sensor(
    job=faulty_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING
)
def wrong_type() -> int:
    return 42


@dg.sensor(
    job=faulty_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING
)
def bad_cursor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    context.update_cursor(object())
    return dg.SkipReason("cursor set")


@dg.sensor(
    job=faulty_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING
)
def healthy(context: dg.SensorEvaluationContext) -> dg.RunRequest:
    n = int(context.cursor or 0) + 1
    context.update_cursor(str(n))
    return dg.RunRequest(run_key=f"h{n}")


defs = dg.Definitions(jobs=[faulty_job], sensors=[raises, hangs, wrong_type, bad_cursor, healthy])
