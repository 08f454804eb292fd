"""A sensor that says why it did nothing: the upstream service is down.

The "service" is a status file, ``<dir>/service.status``, that reads ``up`` or
anything else; a real sensor would call a health endpoint.
"""

import os

import lookout as dg

WATCHED = os.environ.get("LOOKOUT_EXAMPLE_DIR", "data")


@dg.op
def refresh_cache() -> str:
    return "refreshed"


@dg.job
def refresh_job() -> None:
    refresh_cache()


@dg.sensor(
    job=refresh_job, minimum_interval_seconds=10, default_status=dg.DefaultSensorStatus.RUNNING
)
def service_up_sensor() -> dg.RunRequest | dg.SkipReason:
    path = os.path.join(WATCHED, "service.status")
    if not os.path.exists(path):
        return dg.SkipReason(f"service status unknown: {path} does not exist")
    with open(path, encoding="utf-8") as handle:
        status = handle.read().strip()
    if status != "up":
        return dg.SkipReason(f"service is {status!r}, not 'up'; not refreshing")
    return dg.RunRequest(run_key=None)


defs = dg.Definitions(jobs=[refresh_job], sensors=[service_up_sensor])
