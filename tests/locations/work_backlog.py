"""A run-status sensor that takes a while per event, for a backlog longer than its timeout.

``slow_watch`` appends each run id it is handed to ``WORK_BACKLOG_SEEN`` and
then sleeps ``WORK_BACKLOG_SLEEP`` seconds.
"""

import os
import time

import lookout as dg


@dg.op
def noop() -> None:
    return None


@dg.job
def watched_job() -> None:
    noop()


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[watched_job],
    minimum_interval_seconds=30,
)
def slow_watch(context: dg.RunStatusSensorContext) -> dg.SkipReason:
    with open(os.environ["WORK_BACKLOG_SEEN"], "a") as handle:
        handle.write(context.dagster_run.run_id + "\n")
    time.sleep(float(os.environ.get("WORK_BACKLOG_SLEEP", "0")))
    return dg.SkipReason("noted")


defs = dg.Definitions(jobs=[watched_job], sensors=[slow_watch])
