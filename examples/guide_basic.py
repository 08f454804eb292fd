"""The basic sensor of Dagster's sensor guide, written for lookout.

Only the import differs from Dagster: ``import lookout as dg``.
"""

import random
from collections.abc import Iterator

import lookout as dg


@dg.asset
def greeting(context: dg.AssetExecutionContext) -> None:
    context.log.info("hello from run %s", context.run_id)


greeting_job = dg.define_asset_job("greeting_job", selection=[greeting])


def look_for_new_files() -> list[str]:
    """Stands in for listing a bucket: finds two files about half the time."""
    return ["report-a.csv", "report-b.csv"] if random.random() > 0.5 else []


@dg.sensor(
    job=greeting_job,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def new_report_sensor() -> Iterator[dg.RunRequest | dg.SkipReason]:
    found = look_for_new_files()
    if not found:
        yield dg.SkipReason("no new reports")
        return
    for name in found:
        yield dg.RunRequest(run_key=name)


defs = dg.Definitions(assets=[greeting], jobs=[greeting_job], sensors=[new_report_sensor])
