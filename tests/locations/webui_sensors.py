"""A code location for the web UI's browser tests: a little of everything its pages show.

``orders`` asks each tick for one run of ``load_orders`` with a new run key,
config and a tag; every third batch is bad and its run fails.  ``inbox``
asks for a run, skips or raises by the clock, so its timeline has every colour.
``bucket_watch`` always raises from a helper, so its FAILURE ticks carry a
traceback through user code.  ``failed_orders`` is a run-failure sensor, off
by default: once ticked, the events after its cursor are its lag.
"""

import time

import lookout as dg


@dg.op(config_schema={"batch": int})
def load(context: dg.OpExecutionContext) -> int:
    batch: int = context.op_config["batch"]
    if batch % 3 == 0:
        raise ValueError(f"batch {batch}: 2 rows have no order id")
    return batch


@dg.job
def load_orders() -> None:
    load()


@dg.sensor(
    job=load_orders, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING
)
def orders(context: dg.SensorEvaluationContext) -> dg.RunRequest:
    """New order batches from the orders API, one run per batch."""
    n = int(context.cursor or 0) + 1
    context.update_cursor(str(n))
    return dg.RunRequest(
        run_key=f"batch-{n}",
        run_config={"ops": {"load": {"config": {"batch": n}}}},
        tags={"source": "orders-api"},
    )


@dg.sensor(
    job=load_orders, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING
)
def inbox() -> dg.RunRequest | dg.SkipReason:
    """Mail in the inbox: answers by the clock, so that every status shows."""
    second = int(time.time())
    if second % 4 == 0:
        raise ConnectionError("the mail server did not answer")
    if second % 3 == 0:
        time.sleep(0.15)  # a slow poll, to show in the timeline's durations
    if second % 4 == 1:
        return dg.RunRequest(
            run_key=f"mail-{second}", run_config={"ops": {"load": {"config": {"batch": 1}}}}
        )
    return dg.SkipReason("no new mail")


def list_bucket(name: str) -> list[str]:
    raise RuntimeError(f"the bucket {name!r} is gone")


@dg.sensor(
    job=load_orders, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING
)
def bucket_watch(context: dg.SensorEvaluationContext) -> list[dg.RunRequest]:
    """Files landing in the bucket."""
    context.log.info("listing bucket 'landing'")
    return [dg.RunRequest(run_key=key) for key in list_bucket("landing")]


@dg.run_failure_sensor(monitored_jobs=[load_orders])
def failed_orders(context: dg.RunFailureSensorContext) -> dg.SkipReason:
    """Alerts on failed loads (off by default)."""
    return dg.SkipReason(f"would alert on run {context.dagster_run.run_id}")


defs = dg.Definitions(jobs=[load_orders], sensors=[orders, inbox, bucket_watch, failed_orders])
