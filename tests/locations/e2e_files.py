"""A directory sensor for the end-to-end tests: one run per file, ever."""

import os
from collections.abc import Iterator

import lookout as dg

WATCHED = os.environ.get("E2E_DIR", "data")


@dg.op(config_schema={"path": str})
def read_file(context: dg.OpExecutionContext) -> int:
    with open(context.op_config["path"], "rb") as handle:
        return len(handle.read())


@dg.job
def file_job() -> None:
    read_file()


@dg.sensor(
    job=file_job, minimum_interval_seconds=0.2, default_status=dg.DefaultSensorStatus.RUNNING
)
def file_sensor() -> Iterator[dg.RunRequest]:
    # No cursor on purpose: every tick lists the whole directory, and only the
    # run keys keep a file from launching twice.
    for name in sorted(os.listdir(WATCHED)):
        path = os.path.join(WATCHED, name)
        if name.endswith(".txt"):
            yield dg.RunRequest(
                run_key=name, run_config={"ops": {"read_file": {"config": {"path": path}}}}
            )


defs = dg.Definitions(jobs=[file_job], sensors=[file_sensor])
