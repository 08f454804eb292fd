"""Run-status and run-failure sensors written the way Dagster's documentation writes them.

Only the import lines are lookout's; the names and texts are this project's
own.  The patterns: a SUCCESS sensor that requests a reporting job unless
the run was that job's (``request_job=``), a failure sensor that does the
same, alerting sensors typed ``RunFailureSensorContext`` /
``RunStatusSensorContext`` reading ``context.dagster_run.job_name`` and
``context.failure_event.message``, a context-less sensor over every code
location (``monitor_all_repositories=True``) and one limited by
``monitored_jobs=``.  Alerts go to the file named by ``DOCS_OUTBOX``.
"""

import os

import lookout as dg
from lookout import (
    DagsterRunStatus,
    RunFailureSensorContext,
    RunRequest,
    RunStatusSensorContext,
    SkipReason,
    job,
    op,
    run_failure_sensor,
    run_status_sensor,
)


def send_alert(message: str) -> None:
    """Stands in for the Slack or email client of the documentation."""
    with open(os.environ["DOCS_OUTBOX"], "a", encoding="utf-8") as outbox:
        outbox.write(message + "\n")


@op(config_schema={"job_name": str})
def status_report(context: dg.OpExecutionContext) -> str:
    reported: str = context.op_config["job_name"]
    context.log.info("reporting on %s", reported)
    return reported


@job
def status_reporting_job() -> None:
    status_report()


@op
def load_warehouse() -> int:
    return 1


@job
def nightly_load() -> None:
    load_warehouse()


@op
def load_broken_feed() -> None:
    raise Exception("feed unreachable!")


@job
def nightly_load_fails() -> None:
    load_broken_feed()


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, request_job=status_reporting_job)
def report_success_sensor(context: RunStatusSensorContext) -> RunRequest | SkipReason:
    # without this check the reporting job's own success would report itself forever
    if context.dagster_run.job_name != status_reporting_job.name:
        run_config = {
            "ops": {"status_report": {"config": {"job_name": context.dagster_run.job_name}}}
        }
        return RunRequest(run_key=None, run_config=run_config)
    return SkipReason("Not reporting on the reporting job")


@run_failure_sensor(request_job=status_reporting_job)
def report_failure_sensor(context: RunFailureSensorContext) -> RunRequest:
    run_config = {"ops": {"status_report": {"config": {"job_name": context.dagster_run.job_name}}}}
    return RunRequest(run_key=None, run_config=run_config)


@run_failure_sensor
def alert_on_failure(context: RunFailureSensorContext) -> None:
    send_alert(
        f'Job "{context.dagster_run.job_name}" failed. Error: {context.failure_event.message}'
    )


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS)
def alert_on_success(context: RunStatusSensorContext) -> None:
    send_alert(f'Job "{context.dagster_run.job_name}" succeeded.')


@run_status_sensor(monitor_all_repositories=True, run_status=DagsterRunStatus.SUCCESS)
def any_success_sensor() -> None:
    send_alert("Some job succeeded.")


@run_failure_sensor(monitored_jobs=[nightly_load_fails], name="nightly_failures")
def watch_nightly_failures(context: RunFailureSensorContext) -> None:
    send_alert(f"nightly failure in {context.dagster_run.job_name}")


defs = dg.Definitions(
    jobs=[status_reporting_job, nightly_load, nightly_load_fails],
    sensors=[
        report_success_sensor,
        report_failure_sensor,
        alert_on_failure,
        alert_on_success,
        any_success_sensor,
        watch_nightly_failures,
    ],
)
