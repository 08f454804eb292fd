"""A code location for the sensor-failure tests (a lookout extension, absent in Dagster).

``brittle`` and ``unwatched`` raise on every tick (STOPPED until a test
starts them); ``watchdog``, a ``sensor_failure_sensor`` of ``brittle`` only,
asks for one run of ``page_job`` per failed tick, keyed by that tick's id and
tagged with the failed sensor and its error.
"""

import lookout as dg


@dg.op
def page() -> None:
    pass


@dg.job
def page_job() -> None:
    page()


@dg.sensor(minimum_interval_seconds=1)
def brittle() -> dg.SkipReason:
    raise RuntimeError("brittle broke")


@dg.sensor(minimum_interval_seconds=1)
def unwatched() -> dg.SkipReason:
    raise RuntimeError("unwatched broke")


@dg.sensor_failure_sensor(
    monitored_sensors=[brittle],
    request_job=page_job,
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def watchdog(context: dg.SensorFailureContext) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=context.tick_id,
        tags={"failed_sensor": context.failed_sensor_name, "error": context.error[:60]},
    )


defs = dg.Definitions(jobs=[page_job], sensors=[brittle, unwatched, watchdog])
