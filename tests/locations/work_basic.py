"""A code location for the worker and launcher tests.

``counter`` (and ``counter_b``, ``_c``, ``_d``) asks for one run per tick
with run keys n1, n2, ... from its cursor, so a lost or doubled tick shows as
a gap or a duplicate.  With
``WORK_PID_FILE`` set it first appends the evaluating process's pid there,
then sleeps ``WORK_SLEEP`` seconds: a test can kill that process mid-tick.
``burst`` asks for ``WORK_BURST`` runs in one tick; ``slow_runs`` for a run
of ``slow_job``, which writes its pid to ``WORK_RUN_PID_FILE`` and sleeps
``WORK_RUN_SLEEP`` seconds.
"""

import os
import time

import lookout as dg


@dg.op
def count(context: dg.OpExecutionContext) -> str:
    return context.run_id


@dg.job
def count_job() -> None:
    count()


def make_counter(name: str) -> dg.SensorDefinition[..., dg.RunRequest]:
    """A sensor asking for one run per tick, run keys n1, n2, ... (each sensor its own)."""

    @dg.sensor(name=name, job=count_job, minimum_interval_seconds=1)
    def counter(context: dg.SensorEvaluationContext) -> dg.RunRequest:
        pid_file = os.environ.get("WORK_PID_FILE")
        if pid_file:
            with open(pid_file, "a") as handle:
                handle.write(f"{os.getpid()}\n")
            time.sleep(float(os.environ.get("WORK_SLEEP", "0")))
        n = int(context.cursor or 0) + 1
        context.update_cursor(str(n))
        return dg.RunRequest(run_key=f"n{n}")

    return counter


counter = make_counter("counter")
COUNTERS = [counter, *(make_counter(f"counter_{c}") for c in "bcd")]


@dg.sensor(job=count_job, minimum_interval_seconds=1)
def burst(context: dg.SensorEvaluationContext) -> list[dg.RunRequest]:
    tick = int(context.cursor or 0) + 1
    context.update_cursor(str(tick))
    size = int(os.environ.get("WORK_BURST", "10"))
    return [dg.RunRequest(run_key=f"t{tick}-{i}") for i in range(size)]


@dg.op
def slow_step(context: dg.OpExecutionContext) -> None:
    pid_file = os.environ.get("WORK_RUN_PID_FILE")
    if pid_file:
        with open(pid_file, "a") as handle:
            handle.write(f"{os.getpid()}\n")
    time.sleep(float(os.environ.get("WORK_RUN_SLEEP", "0")))


@dg.job
def slow_job() -> None:
    slow_step()


@dg.sensor(job=slow_job, minimum_interval_seconds=1)
def slow_runs() -> dg.RunRequest:
    return dg.RunRequest()


defs = dg.Definitions(jobs=[count_job, slow_job], sensors=[*COUNTERS, burst, slow_runs])
