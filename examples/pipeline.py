"""The ``lookout dev`` demo: files become runs, failures raise alerts, partitions flow downstream.

- ``incoming_file_sensor`` watches ``$LOOKOUT_EXAMPLE_DIR`` (default
  ``data/incoming``): each new file named ``YYYY-MM-DD*.csv`` becomes exactly
  one run of ``ingest_job`` for that day's partition.
- A file whose content has the word ``FAIL`` makes its run fail; the run
  failure sensor ``failed_ingest_alert`` then asks for one ``alert_job`` run.
- Each materialization of ``daily_sales`` triggers ``daily_report_sensor``,
  an asset sensor that runs ``report_job`` for the same partition, read from
  the upstream run's ``dagster/partition`` tag.
"""

import os
from collections.abc import Iterator

import lookout as dg

WATCHED = os.environ.get("LOOKOUT_EXAMPLE_DIR", os.path.join("data", "incoming"))


@dg.asset(config_schema={"path": str})
def daily_sales(context: dg.AssetExecutionContext) -> int:
    path = context.op_config["path"]
    with open(path, encoding="utf-8") as handle:
        rows = [line for line in handle.read().splitlines() if line.strip()]
    if any("FAIL" in row for row in rows):
        raise ValueError(f"{path}: a row says FAIL")
    context.log.info("partition %s: %d rows from %s", context.partition_key, len(rows), path)
    return len(rows)


@dg.asset(deps=[daily_sales])
def daily_report(context: dg.AssetExecutionContext) -> str:
    context.log.info("report for %s", context.partition_key)
    return f"report {context.partition_key}"


ingest_job = dg.define_asset_job("ingest_job", selection=[daily_sales])
report_job = dg.define_asset_job("report_job", selection=[daily_report])


@dg.op(config_schema={"failed_run": str, "error": str})
def send_alert(context: dg.OpExecutionContext) -> None:
    context.log.warning(
        "ALERT: run %s failed: %s", context.op_config["failed_run"], context.op_config["error"]
    )


@dg.job
def alert_job() -> None:
    send_alert()


@dg.sensor(
    job=ingest_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING
)
def incoming_file_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
    os.makedirs(WATCHED, exist_ok=True)
    seen: list[str] = list(context.cursor or [])  # names in the order they arrived
    for name in sorted(os.listdir(WATCHED)):
        path = os.path.abspath(os.path.join(WATCHED, name))
        if name in seen or not name.endswith(".csv") or not os.path.isfile(path):
            continue
        seen.append(name)
        yield dg.RunRequest(
            run_key=name,  # one run per file, ever
            partition_key=name[:10],
            run_config={"ops": {"daily_sales": {"config": {"path": path}}}},
        )
    # A structured cursor: the last 1,000 names seen, newest last.  An older
    # file that falls out of it is asked for again, and its run key drops it.
    context.update_cursor(seen[-1000:])


@dg.run_failure_sensor(
    request_job=alert_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING
)
def failed_ingest_alert(context: dg.RunFailureSensorContext) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=context.dagster_run.run_id,
        run_config={
            "ops": {
                "send_alert": {
                    "config": {
                        "failed_run": context.dagster_run.run_id,
                        "error": (context.failure_event.message or "").splitlines()[0][:200],
                    }
                }
            }
        },
    )


@dg.asset_sensor(
    asset_key=dg.AssetKey("daily_sales"),
    job=report_job,
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def daily_report_sensor(
    context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
) -> dg.RunRequest | None:
    partition = asset_event.dagster_event.logging_tags.get("dagster/partition")
    if not partition:
        return None
    return dg.RunRequest(
        run_key=partition, partition_key=partition, tags={"dagster/partition": partition}
    )


defs = dg.Definitions(
    assets=[daily_sales, daily_report],
    jobs=[ingest_job, report_job, alert_job],
    sensors=[incoming_file_sensor, failed_ingest_alert, daily_report_sensor],
)
