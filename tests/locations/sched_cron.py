"""Schedules and dynamic partitions on the runtime: the beat, the worker, the commit.

``every_minute`` (RUNNING by default) launches ``tally_job`` each minute.
``quay_schedule`` asks for the partition of ``quay_job`` named in
``QUAY_PARTITION`` (default "east"), under its own run key when
``QUAY_RUN_KEY`` is set.  ``dock_opener`` adds the docks named in ``DOCKS``
(comma-separated) to the dynamic partitions ``docks`` and asks for a run of
each in the same ``SensorResult``; ``dock_reader`` asks for a run of every
dock it reads from ``context.instance``, and of ``EXTRA_DOCK`` when set.
"""

import os

import lookout as dg


@dg.op
def tally() -> int:
    return 1


@dg.job
def tally_job() -> None:
    tally()


every_minute = dg.ScheduleDefinition(
    name="every_minute",
    cron_schedule="* * * * *",
    job=tally_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

quays = dg.StaticPartitionsDefinition(["east", "west"])


@dg.asset(partitions_def=quays)
def quay_log(context: dg.AssetExecutionContext) -> str:
    return f"logged {context.partition_key}"


quay_job = dg.define_asset_job("quay_job", selection=[quay_log])


@dg.schedule(job=quay_job, cron_schedule="*/5 * * * *", execution_timezone="Europe/Lisbon")
def quay_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=os.environ.get("QUAY_RUN_KEY"),
        partition_key=os.environ.get("QUAY_PARTITION", "east"),
        tags={"hour": str(context.scheduled_execution_time.hour)},
    )


docks = dg.DynamicPartitionsDefinition(name="docks")


@dg.asset(partitions_def=docks)
def dock_log(context: dg.AssetExecutionContext) -> str:
    return f"dock {context.partition_key}"


dock_job = dg.define_asset_job("dock_job", selection=[dock_log])


@dg.sensor(job=dock_job, minimum_interval_seconds=1)
def dock_opener() -> dg.SensorResult:
    names = [d for d in os.environ.get("DOCKS", "").split(",") if d]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=d, partition_key=d) for d in names],
        dynamic_partitions_requests=[docks.build_add_request(names)],
    )


@dg.sensor(job=dock_job, minimum_interval_seconds=1)
def dock_reader(context: dg.SensorEvaluationContext) -> list[dg.RunRequest]:
    known = context.instance.get_dynamic_partitions("docks")
    extra = [os.environ["EXTRA_DOCK"]] if os.environ.get("EXTRA_DOCK") else []
    return [dg.RunRequest(run_key=f"read-{d}", partition_key=d) for d in [*known, *extra]]


defs = dg.Definitions(
    assets=[quay_log, dock_log],
    jobs=[tally_job, quay_job, dock_job],
    schedules=[every_minute, quay_schedule],
    sensors=[dock_opener, dock_reader],
)
