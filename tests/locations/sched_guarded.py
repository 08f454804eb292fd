"""A schedule that logs and then fails in its own helper: what its tick record keeps."""

from __future__ import annotations

import lookout as dg


@dg.op
def sweep() -> None:
    pass


@dg.job
def sweep_job() -> None:
    sweep()


def tide_height(port: str) -> float:
    raise ValueError(f"no tide table for {port!r}")


@dg.schedule(job=sweep_job, cron_schedule="0 * * * *")
def tide_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    context.log.info("reading the tide for Setubal")
    height = tide_height("Setubal")
    return dg.RunRequest(run_key=f"tide-{height}")


defs = dg.Definitions(jobs=[sweep_job], schedules=[tide_schedule])
