"""Sensors as Dagster's sensor guide writes them; only the import line is lookout's.

Written after the guide's examples: the basic sensor, the directory sensor
with an mtime cursor, and the asset sensor that reads the upstream
partition from the event's tags.
"""

import os
import random

import lookout as dg
from lookout import AssetKey, RunRequest, sensor

MY_DIRECTORY = os.environ.get("GUIDE_DIR", "data")


@dg.asset
def my_asset(context: dg.AssetExecutionContext):
    context.log.info("Hello, world!")


my_job = dg.define_asset_job("my_job", selection=[my_asset])


def check_for_new_files() -> list[str]:
    if random.random() > 0.5:
        return ["file1", "file2"]
    return []


@dg.sensor(target=my_job, minimum_interval_seconds=5)
def new_file_sensor():
    new_files = check_for_new_files()
    if new_files:
        for filename in new_files:
            yield dg.RunRequest(run_key=filename)
    else:
        yield dg.SkipReason("No new files found")


@dg.sensor(
    job=my_job,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def updated_file_sensor(context):
    last_mtime = float(context.cursor) if context.cursor else 0
    max_mtime = last_mtime
    for filename in os.listdir(MY_DIRECTORY):
        filepath = os.path.join(MY_DIRECTORY, filename)
        if os.path.isfile(filepath):
            fstats = os.stat(filepath)
            file_mtime = fstats.st_mtime
            if file_mtime <= last_mtime:
                continue
            run_key = f"{filename}:{file_mtime}"
            run_config = {"ops": {"my_asset": {"config": {"filename": filename}}}}
            yield dg.RunRequest(run_key=run_key, run_config=run_config)
            max_mtime = max(max_mtime, file_mtime)
    context.update_cursor(str(max_mtime))


@sensor(asset_key=AssetKey("my_asset"))
def my_asset_sensor(context, asset_event):
    partition_key = asset_event.dagster_event.logging_tags.get("dagster/partition")
    if partition_key:
        return RunRequest(
            run_key=partition_key,
            tags={"dagster/partition": partition_key},
        )
    return None


defs = dg.Definitions(
    assets=[my_asset],
    jobs=[my_job],
    sensors=[new_file_sensor, updated_file_sensor, my_asset_sensor],
)
