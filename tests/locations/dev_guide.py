"""A code location in the shape of Dagster's sensor guide, for ``lookout dev``'s tests.

A directory sensor (STOPPED by default, as in the guide) asks for one run
per file in ``DEV_GUIDE_DIR``; a second sensor, RUNNING by default, only
skips.
"""

import os
from collections.abc import Iterator

import lookout as dg

INBOX = os.environ.get("DEV_GUIDE_DIR", "inbox")


@dg.asset
def landed_file(context: dg.AssetExecutionContext) -> None:
    context.log.info("a file landed")


landing_job = dg.define_asset_job("landing_job", selection=[landed_file])


@dg.sensor(target=landing_job, minimum_interval_seconds=1)
def inbox_sensor() -> Iterator[dg.RunRequest | dg.SkipReason]:
    names = sorted(os.listdir(INBOX)) if os.path.isdir(INBOX) else []
    if not names:
        yield dg.SkipReason("the inbox is empty")
    for name in names:
        yield dg.RunRequest(run_key=name)


@dg.sensor(
    target=landing_job,
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def idle_sensor() -> dg.SkipReason:
    return dg.SkipReason("nothing to do")


defs = dg.Definitions(assets=[landed_file], jobs=[landing_job], sensors=[inbox_sensor, idle_sensor])
