"""Event sensors downstream of real runs: an asset sensor and a run-failure sensor.

``feeder`` asks, per tick, for one run of ``upstream_job`` (which materializes
the partitioned asset ``upstream``) and one of ``flaky_job`` (which fails).
``on_upstream`` asks for one ``downstream_job`` run per materialization and
``on_failure`` for one ``alert_job`` run per failed run, neither with a run
key: an event seen twice would show as a second run.
"""

import lookout as dg


@dg.asset
def upstream(context: dg.AssetExecutionContext) -> str:
    return context.partition_key


upstream_job = dg.define_asset_job("upstream_job", selection=[upstream])


@dg.op
def explode() -> None:
    raise ValueError("flaky op failed on purpose")


@dg.job
def flaky_job() -> None:
    explode()


@dg.op
def record(context: dg.OpExecutionContext) -> dict[str, str]:
    return dict(context.run.tags)


@dg.job
def downstream_job() -> None:
    record()


@dg.job
def alert_job() -> None:
    record()


@dg.sensor(jobs=[upstream_job, flaky_job], minimum_interval_seconds=1)
def feeder(context: dg.SensorEvaluationContext) -> list[dg.RunRequest]:
    n = int(context.cursor or 0) + 1
    context.update_cursor(str(n))
    return [
        dg.RunRequest(run_key=f"u{n}", job_name="upstream_job", partition_key=f"p{n}"),
        dg.RunRequest(run_key=f"f{n}", job_name="flaky_job"),
    ]


@dg.asset_sensor(asset_key=dg.AssetKey("upstream"), job=downstream_job, minimum_interval_seconds=1)
def on_upstream(
    context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
) -> dg.RunRequest:
    partition = asset_event.dagster_event.logging_tags["dagster/partition"]
    return dg.RunRequest(tags={"upstream_partition": partition, "upstream_run": asset_event.run_id})


@dg.run_failure_sensor(request_job=alert_job, minimum_interval_seconds=1)
def on_failure(context: dg.RunFailureSensorContext) -> dg.RunRequest:
    return dg.RunRequest(tags={"failed_run": context.dagster_run.run_id})


defs = dg.Definitions(
    assets=[upstream],
    jobs=[upstream_job, flaky_job, downstream_job, alert_job],
    sensors=[feeder, on_upstream, on_failure],
)
