"""Watch a directory: one run per new or changed file, with the newest mtime as cursor.

The directory is ``$LOOKOUT_EXAMPLE_DIR`` (default ``./data``).
"""

import os
from collections.abc import Iterator

import lookout as dg

WATCHED = os.environ.get("LOOKOUT_EXAMPLE_DIR", "data")


@dg.op(config_schema={"filename": str})
def ingest_file(context: dg.OpExecutionContext) -> int:
    path = os.path.join(WATCHED, context.op_config["filename"])
    with open(path, "rb") as handle:
        size = len(handle.read())
    context.log.info("ingested %s (%d bytes)", path, size)
    return size


@dg.job
def ingest_job() -> None:
    ingest_file()


@dg.sensor(
    job=ingest_job, minimum_interval_seconds=2, default_status=dg.DefaultSensorStatus.RUNNING
)
def new_file_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
    # The cursor is the newest modification time seen so far, kept as a string
    # exactly as Dagster's guide keeps it.
    last_mtime = float(context.cursor) if context.cursor else 0.0
    newest = last_mtime
    os.makedirs(WATCHED, exist_ok=True)
    for filename in sorted(os.listdir(WATCHED)):
        path = os.path.join(WATCHED, filename)
        if not os.path.isfile(path):
            continue
        mtime = os.stat(path).st_mtime
        if mtime <= last_mtime:
            continue
        # mtime in the key: a file written again is a new run, the same file is not.
        yield dg.RunRequest(
            run_key=f"{filename}:{mtime}",
            run_config={"ops": {"ingest_file": {"config": {"filename": filename}}}},
        )
        newest = max(newest, mtime)
    context.update_cursor(str(newest))


defs = dg.Definitions(jobs=[ingest_job], sensors=[new_file_sensor])
