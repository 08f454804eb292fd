"""Sensors written the way Dagster's sensor documentation writes them.

Only the import lines are lookout's.  The names and texts are this
project's own; the API surface is the documentation's: an op with a config
schema in an op job, a directory sensor without a context, skip reasons, an
mtime cursor, sensors at several intervals, a sensor running by default, a
sensor that logs, one returning a list, ``SensorResult`` (also empty, as
``dg scaffold`` writes it), asset jobs over ``"*"`` and
``AssetSelection.keys``, several target jobs, ``job_name=`` and
``name=``/``description=``/``tags=``.

The watched directory comes from ``DOCS_INBOX`` so each test has its own.
"""

import os
from collections.abc import Iterator

import lookout as dg
from lookout import RunRequest, SkipReason, job, op, sensor

INBOX = os.environ.get("DOCS_INBOX", "inbox")


# -- an op job configured per run ----------------------------------------------


@op(config_schema={"path": str})
def ingest_file(context: dg.OpExecutionContext) -> str:
    path: str = context.op_config["path"]
    context.log.info(path)
    return path


@job
def ingest_job() -> None:
    ingest_file()


@job
def noop_job() -> None:
    pass


# -- sensors over a directory ----------------------------------------------------


@sensor(job=ingest_job)
def inbox_sensor() -> Iterator[RunRequest]:
    for name in sorted(os.listdir(INBOX)):
        path = os.path.join(INBOX, name)
        if os.path.isfile(path):
            yield RunRequest(
                run_key=name,
                run_config={"ops": {"ingest_file": {"config": {"path": name}}}},
            )


@sensor(job=ingest_job)
def inbox_sensor_with_skips() -> Iterator[RunRequest | SkipReason]:
    found = False
    for name in sorted(os.listdir(INBOX)):
        if os.path.isfile(os.path.join(INBOX, name)):
            yield RunRequest(
                run_key=name,
                run_config={"ops": {"ingest_file": {"config": {"path": name}}}},
            )
            found = True
    if not found:
        yield SkipReason(f"Nothing waiting in {INBOX}.")


@sensor(job=ingest_job)
def inbox_cursor_sensor(context: dg.SensorEvaluationContext) -> Iterator[RunRequest]:
    last_mtime = float(context.cursor) if context.cursor else 0
    max_mtime = last_mtime
    for name in sorted(os.listdir(INBOX)):
        path = os.path.join(INBOX, name)
        if not os.path.isfile(path):
            continue
        mtime = os.stat(path).st_mtime
        if mtime <= last_mtime:
            continue
        # the mtime is part of the key, so a changed file runs again
        yield RunRequest(
            run_key=f"{name}:{mtime}",
            run_config={"ops": {"ingest_file": {"config": {"path": name}}}},
        )
        max_mtime = max(max_mtime, mtime)
    context.update_cursor(str(max_mtime))


@sensor(job=ingest_job)
def testable_sensor() -> Iterator[RunRequest]:
    yield RunRequest(
        run_key="alpha",
        run_config={"ops": {"ingest_file": {"config": {"path": "alpha.csv"}}}},
    )


def keys_after(since: str | None) -> list[str]:
    """Stands in for a bucket listing: the names in the inbox after ``since``."""
    return [n for n in sorted(os.listdir(INBOX)) if since is None or n > since]


@sensor(job=noop_job)
def bucket_sensor(context: dg.SensorEvaluationContext) -> list[RunRequest] | SkipReason:
    since_key = context.cursor or None
    new_keys = keys_after(since_key)
    if not new_keys:
        return SkipReason(f"No new keys after {since_key}.")
    run_requests = [RunRequest(run_key=key, run_config={}) for key in new_keys]
    context.update_cursor(new_keys[-1])
    return run_requests


@sensor(job=noop_job)
def batch_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    done = int(context.cursor) if context.cursor else 0
    names = sorted(os.listdir(INBOX))
    return dg.SensorResult(
        run_requests=[RunRequest(run_key=name) for name in names[done:]],
        cursor=str(len(names)),
    )


@dg.sensor(target=None)
def scaffolded_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    return dg.SensorResult()


# -- intervals, default status, logging --------------------------------------------


@sensor(job=noop_job, minimum_interval_seconds=30)
def every_thirty_seconds() -> Iterator[RunRequest]:
    yield RunRequest(run_key=None, run_config={})


@sensor(job=noop_job, minimum_interval_seconds=45)
def every_forty_five_seconds() -> Iterator[RunRequest]:
    yield RunRequest(run_key=None, run_config={})


@sensor(job=ingest_job, default_status=dg.DefaultSensorStatus.RUNNING)
def always_on_sensor() -> None: ...


@sensor(target=noop_job)
def chatty_sensor(context: dg.SensorEvaluationContext) -> SkipReason:
    context.log.info("Checking in from a sensor")
    return SkipReason("Nothing to do today")


# -- asset jobs, several jobs, jobs by name, naming ------------------------------------


@dg.asset
def raw_orders() -> int:
    return 3


@dg.asset(deps=[raw_orders])
def order_summary(context: dg.AssetExecutionContext) -> None:
    context.log.info("summarized")


everything_job = dg.define_asset_job("everything_job", "*")
summary_job = dg.define_asset_job("summary_job", dg.AssetSelection.keys("order_summary"))


@sensor(job=everything_job)
def orders_sensor() -> Iterator[RunRequest]:
    yield RunRequest(run_key="orders-1")


@sensor(jobs=[ingest_job, noop_job])
def fan_out_sensor() -> Iterator[RunRequest]:
    yield RunRequest(
        run_key="to-ingest",
        job_name="ingest_job",
        run_config={"ops": {"ingest_file": {"config": {"path": "x.csv"}}}},
    )
    yield RunRequest(run_key="to-noop", job_name="noop_job", tags={"origin": "fan_out"})


@sensor(job_name="summary_job")
def by_job_name_sensor() -> RunRequest:
    return RunRequest()


@sensor(
    job=noop_job,
    name="renamed_sensor",
    description="Watches nothing in particular",
    tags={"team": "ingest"},
)
def original_function_name() -> None:
    return None


defs = dg.Definitions(
    assets=[raw_orders, order_summary],
    jobs=[ingest_job, noop_job, everything_job, summary_job],
    sensors=[
        inbox_sensor,
        inbox_sensor_with_skips,
        inbox_cursor_sensor,
        testable_sensor,
        bucket_sensor,
        batch_sensor,
        scaffolded_sensor,
        every_thirty_seconds,
        every_forty_five_seconds,
        always_on_sensor,
        chatty_sensor,
        orders_sensor,
        fan_out_sensor,
        by_job_name_sensor,
        original_function_name,
    ],
)
