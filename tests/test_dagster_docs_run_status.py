"""Dagster's run-status sensor documentation examples, ticked by lookout against a real Redis.

Jobs run in process and the events of each run are put on the event
stream as a worker would put them; then the sensors tick.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from lookout import Definitions, ExecuteInProcessResult, Settings
from lookout._author.run_events import run_events
from lookout.testing import Repositories, TickRunner, load_definitions, tick_runner
from tests.docs_support import launched, tick

LOCATION = Path(__file__).parent / "locations" / "docs_run_status.py"


@pytest.fixture
def defs() -> Definitions:
    return load_definitions(file=str(LOCATION))


@pytest.fixture
def runner(defs: Definitions, storage: Repositories, settings: Settings) -> TickRunner:
    return tick_runner(defs, storage, settings)


def run_job(
    runner: TickRunner, name: str, run_config: Mapping[str, Any] | None = None
) -> ExecuteInProcessResult:
    """Run a job of the location and report its run's events to the stream."""
    result = runner.definitions.get_job(name).execute_in_process(
        run_config=run_config, raise_on_error=False
    )
    for event in run_events(result.dagster_run, result.materializations, result.error, time.time()):
        runner.events.append(event)
    return result


def start(runner: TickRunner, *names: str) -> None:
    """First ticks: a run-status sensor starts at the newest event, it does not replay."""
    for name in names:
        assert tick(runner, name).status == "SKIPPED"


def test_success_sensor_requests_the_reporting_job_except_for_its_own_runs(
    runner: TickRunner,
) -> None:
    start(runner, "report_success_sensor")
    assert run_job(runner, "nightly_load").success
    record = tick(runner, "report_success_sensor")
    assert record.status == "SUCCESS" and len(record.run_request_ids) == 1
    (request,) = launched(runner)
    assert (request.job_name, request.run_key) == ("status_reporting_job", None)
    assert request.run_config == {
        "ops": {"status_report": {"config": {"job_name": "nightly_load"}}}
    }
    # the requested run succeeds in turn: the sensor must not report on it
    report = run_job(runner, "status_reporting_job", request.run_config)
    assert report.success and report.output_for_node("status_report") == "nightly_load"
    assert tick(runner, "report_success_sensor").status == "SKIPPED"
    assert not run_job(runner, "nightly_load_fails").success  # not a SUCCESS: ignored
    assert tick(runner, "report_success_sensor").status == "SKIPPED"
    assert len(launched(runner)) == 1


def test_failure_sensor_requests_the_reporting_job_for_the_failed_run(
    runner: TickRunner,
) -> None:
    start(runner, "report_failure_sensor")
    run_job(runner, "nightly_load")
    assert tick(runner, "report_failure_sensor").status == "SKIPPED"
    run_job(runner, "nightly_load_fails")
    assert tick(runner, "report_failure_sensor").status == "SUCCESS"
    (request,) = launched(runner)
    assert request.job_name == "status_reporting_job"
    assert request.run_config["ops"]["status_report"]["config"] == {
        "job_name": "nightly_load_fails"
    }


def test_failure_alert_names_the_job_and_carries_the_error_message(
    runner: TickRunner, outbox: Path
) -> None:
    start(runner, "alert_on_failure")
    run_job(runner, "nightly_load_fails")
    record = tick(runner, "alert_on_failure")
    assert record.status == "SKIPPED" and record.requests == []
    text = outbox.read_text()
    assert text.startswith(
        "Job \"nightly_load_fails\" failed. Error: step 'load_broken_feed' failed: "
        "Exception('feed unreachable!')"
    )
    assert tick(runner, "alert_on_failure").status == "SKIPPED"
    assert outbox.read_text() == text  # each failure is alerted once


def test_success_alerts_with_and_without_a_context(runner: TickRunner, outbox: Path) -> None:
    start(runner, "alert_on_success", "any_success_sensor")
    run_job(runner, "nightly_load")
    run_job(runner, "nightly_load")
    run_job(runner, "nightly_load_fails")
    tick(runner, "alert_on_success")
    tick(runner, "any_success_sensor")
    assert outbox.read_text().splitlines() == [
        'Job "nightly_load" succeeded.',
        'Job "nightly_load" succeeded.',
        "Some job succeeded.",
        "Some job succeeded.",
    ]


def test_monitored_jobs_limit_which_failures_a_sensor_sees(
    runner: TickRunner, outbox: Path
) -> None:
    start(runner, "nightly_failures")
    # the reporting job without its config fails too, but it is not monitored
    assert not run_job(runner, "status_reporting_job").success
    run_job(runner, "nightly_load_fails")
    tick(runner, "nightly_failures")
    assert outbox.read_text().splitlines() == ["nightly failure in nightly_load_fails"]
