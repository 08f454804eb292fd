"""Asset sensors written the way Dagster's asset-sensor documentation writes them.

Only the import lines are lookout's; the names are this project's own.  The
patterns: an asset sensor typed ``(context: SensorEvaluationContext,
asset_event: EventLogEntry)`` that keys its run by ``context.cursor`` and
passes ``asset_event.dagster_event.asset_key.path`` as op config; one that
takes no argument at all and targets its job by ``job_name=``; and one that
reads the upstream run's partition from ``dagster_event.logging_tags``.
"""

from collections.abc import Iterator

import lookout as dg
from lookout import AssetKey, EventLogEntry, RunRequest, SensorEvaluationContext, asset_sensor


@dg.asset
def daily_orders(context: dg.AssetExecutionContext) -> None:
    context.log.info("the asset being watched")


@dg.asset
def weekly_digest(context: dg.AssetExecutionContext) -> None:
    context.log.info("the asset a sensor triggers")


digest_job = dg.define_asset_job("digest_job", [weekly_digest])


@dg.op(config_schema={"asset_key": list})
def read_materialization(context: dg.OpExecutionContext) -> list[str]:
    path: list[str] = context.op_config["asset_key"]
    return path


@dg.job
def reader_job() -> None:
    read_materialization()


@asset_sensor(asset_key=AssetKey("daily_orders"), job=reader_job)
def orders_table_sensor(
    context: SensorEvaluationContext, asset_event: EventLogEntry
) -> Iterator[RunRequest]:
    asset_key = asset_event.dagster_event.asset_key
    assert asset_key is not None  # a materialization always names its asset
    yield RunRequest(
        run_key=context.cursor,
        run_config={"ops": {"read_materialization": {"config": {"asset_key": asset_key.path}}}},
    )


@dg.asset_sensor(asset_key=dg.AssetKey("daily_orders"), job_name="digest_job")
def daily_orders_sensor() -> dg.RunRequest:
    return dg.RunRequest()


@dg.asset_sensor(asset_key=dg.AssetKey("daily_orders"), job=digest_job)
def partition_follower(
    context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
) -> dg.RunRequest | None:
    partition_key = asset_event.dagster_event.logging_tags.get("dagster/partition")
    if partition_key:
        return dg.RunRequest(run_key=partition_key, tags={"dagster/partition": partition_key})
    return None


defs = dg.Definitions(
    assets=[daily_orders, weekly_digest],
    jobs=[digest_job, reader_job],
    sensors=[orders_table_sensor, daily_orders_sensor, partition_follower],
)
