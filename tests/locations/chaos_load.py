"""The chaos test's and the soak's workload: file sensors with run keys, and their evaluations.

``chaos_<i>`` (``CHAOS_SENSORS`` of them) watches ``CHAOS_DIR/in/chaos_<i>``,
where the harness drops ``000001.txt``, ``000002.txt``, ... in order; it asks
for one run per new file (run key: the file's name) and keeps the highest
number it has asked for as its cursor.  It takes only files that follow on
without a gap, so a file the directory listing has not shown yet is taken
by a later tick rather than skipped.  ``on_success`` reads the event stream
(a run-status sensor) and asks for nothing.

Every evaluation appends ``<sensor> <token> S <time>`` when it starts and
``... E <time>`` when it ends to ``CHAOS_DIR/evaluations.log`` (one
``write`` on a file opened for appending, so lines from several processes do
not mix): the harness checks that no two evaluations of a sensor overlapped.
"""

import os
import time
import uuid
from collections.abc import Iterator

import lookout as dg

ROOT = os.environ.get("CHAOS_DIR", "data")
SENSORS = int(os.environ.get("CHAOS_SENSORS", "4"))


def _record(sensor: str, token: str, mark: str) -> None:
    line = f"{sensor} {token} {mark} {time.time():.6f}\n".encode()
    fd = os.open(os.path.join(ROOT, "evaluations.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@dg.op(config_schema={"path": str})
def read_file(context: dg.OpExecutionContext) -> int:
    time.sleep(float(os.environ.get("CHAOS_RUN_SLEEP", "0.1")))
    with open(context.op_config["path"], "rb") as handle:
        return len(handle.read())


@dg.job
def chaos_job() -> None:
    read_file()


def _new_files(directory: str, after: int) -> list[int]:
    present = {int(n[:-4]) for n in os.listdir(directory) if n.endswith(".txt")}
    taken = []
    number = after + 1
    while number in present:
        taken.append(number)
        number += 1
    return taken


def make_file_sensor(name: str) -> dg.SensorDefinition[..., Iterator[dg.RunRequest]]:
    """A sensor that asks for a run per new file of its directory, in order."""
    directory = os.path.join(ROOT, "in", name)

    @dg.sensor(
        name=name,
        job=chaos_job,
        minimum_interval_seconds=0.3,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def watch(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
        token = uuid.uuid4().hex[:12]
        _record(name, token, "S")
        numbers = _new_files(directory, int(context.cursor or 0))
        for number in numbers:
            file_name = f"{number:06d}.txt"
            yield dg.RunRequest(
                run_key=file_name,
                run_config={
                    "ops": {"read_file": {"config": {"path": os.path.join(directory, file_name)}}}
                },
            )
        if numbers:
            context.update_cursor(str(numbers[-1]))
        _record(name, token, "E")

    return watch


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def on_success(context: dg.RunStatusSensorContext) -> None:
    token = uuid.uuid4().hex[:12]
    _record("on_success", token, "S")
    _record("on_success", token, "E")


FILE_SENSORS = [make_file_sensor(f"chaos_{i}") for i in range(SENSORS)]

defs = dg.Definitions(jobs=[chaos_job], sensors=[*FILE_SENSORS, on_success])
