"""Steady load for the fault tests: messages are always being worked on when a fault comes.

``file_sensor`` asks for one run per ``*.txt`` file in ``FAULT_DIR`` (run key:
the file name, so a run lost or doubled shows), and each run sleeps
``FAULT_RUN_SLEEP`` seconds; four ``busy_*`` sensors sleep
``FAULT_TICK_SLEEP`` seconds per tick.  With both set, every worker holds an
unacknowledged tick or run message most of the time.
"""

import os
import time
from collections.abc import Iterator

import lookout as dg

WATCHED = os.environ.get("FAULT_DIR", "data")


@dg.op(config_schema={"path": str})
def read_file(context: dg.OpExecutionContext) -> int:
    time.sleep(float(os.environ.get("FAULT_RUN_SLEEP", "0")))
    with open(context.op_config["path"], "rb") as handle:
        return len(handle.read())


@dg.job
def file_job() -> None:
    read_file()


@dg.sensor(
    job=file_job, minimum_interval_seconds=0.2, default_status=dg.DefaultSensorStatus.RUNNING
)
def file_sensor() -> Iterator[dg.RunRequest]:
    for name in sorted(os.listdir(WATCHED)):
        if name.endswith(".txt"):
            path = os.path.join(WATCHED, name)
            yield dg.RunRequest(
                run_key=name, run_config={"ops": {"read_file": {"config": {"path": path}}}}
            )


def make_busy(name: str) -> dg.SensorDefinition[..., dg.SkipReason]:
    """A sensor that takes ``FAULT_TICK_SLEEP`` seconds to find nothing."""

    @dg.sensor(
        name=name,
        job=file_job,
        minimum_interval_seconds=0.2,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def busy() -> dg.SkipReason:
        time.sleep(float(os.environ.get("FAULT_TICK_SLEEP", "0")))
        # A reason of its own per tick: the tests count ticks in the history,
        # which folds a run of like skips into one record.
        return dg.SkipReason(f"busy, nothing new at {time.time_ns()}")

    return busy


BUSY = [make_busy(f"busy_{i}") for i in range(4)]

defs = dg.Definitions(jobs=[file_job], sensors=[file_sensor, *BUSY])
