"""Dagster's "testing sensors" and "testing run status sensors" pages, with lookout.

Sensors are called as plain functions, as the documentation tests them:
without a context, with ``build_sensor_context(cursor=...)``, and with a
run-status context built from a job executed against
``DagsterInstance.ephemeral()``; run config is checked with
``validate_run_config``.  No Redis is needed for any of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import lookout as dg
from lookout import DefinitionError, Definitions
from lookout._author.execute import RunFailedError
from lookout.testing import load_definitions

LOCATIONS = Path(__file__).parent / "locations"


@pytest.fixture
def basics(inbox: Path) -> Definitions:
    return load_definitions(file=str(LOCATIONS / "docs_sensor_basics.py"))


@pytest.fixture
def run_status() -> Definitions:
    return load_definitions(file=str(LOCATIONS / "docs_run_status.py"))


# -- testing sensors ------------------------------------------------------------------


def test_sensor_without_context_is_called_directly_and_its_config_validates(
    basics: Definitions,
) -> None:
    ingest_job = basics.get_job("ingest_job")
    requests = list(basics.get_sensor("testable_sensor")())
    assert [r.run_key for r in requests] == ["alpha"]
    for run_request in requests:
        assert dg.validate_run_config(ingest_job, run_request.run_config)


def test_cursor_sensor_is_called_with_a_built_context(basics: Definitions, inbox: Path) -> None:
    (inbox / "a.csv").write_text("a")
    (inbox / "b.csv").write_text("b")
    context = dg.build_sensor_context(cursor="0")
    requests = list(basics.get_sensor("inbox_cursor_sensor")(context))
    assert len(requests) == 2
    for run_request in requests:
        assert dg.validate_run_config(basics.get_job("ingest_job"), run_request.run_config)
    newest = max((inbox / n).stat().st_mtime for n in ("a.csv", "b.csv"))
    assert context.cursor == str(newest)
    assert list(basics.get_sensor("inbox_cursor_sensor")(context)) == []


def test_validate_run_config_returns_the_config_of_a_valid_run(basics: Definitions) -> None:
    config = {"ops": {"ingest_file": {"config": {"path": "a.csv"}}}}
    assert dg.validate_run_config(basics.get_job("ingest_job"), config) == config
    assert dg.validate_run_config(basics.get_job("noop_job"), {}) == {"ops": {}}
    assert dg.validate_run_config(basics.get_job("noop_job"))


@pytest.mark.parametrize(
    ("run_config", "problem"),
    [
        ({}, "ops.ingest_file: missing required config"),
        ({"ops": {"ingest_file": {"config": {"path": 3}}}}, "expected str, got 3"),
        ({"ops": {"ingest_file": {"config": {}}}}, "missing required key 'path'"),
        (
            {"ops": {"ingest_file": {"config": {"path": "a", "mode": "x"}}}},
            "unexpected key 'mode'",
        ),
        (
            {"ops": {"ingest_file": {"config": {"path": "a"}}, "other": {}}},
            "has no op 'other'",
        ),
        ({"op": {}}, "unexpected top-level key 'op'"),
    ],
)
def test_validate_run_config_names_what_is_wrong(
    basics: Definitions, run_config: dict[str, object], problem: str
) -> None:
    with pytest.raises(DefinitionError, match="ingest_job") as raised:
        dg.validate_run_config(basics.get_job("ingest_job"), run_config)
    assert problem in str(raised.value)


def test_validate_run_config_checks_nested_and_list_schemas() -> None:
    @dg.op(config_schema={"limits": {"rows": int, "ratio": float}, "tables": [str], "on": bool})
    def tune(context: dg.OpExecutionContext) -> None:
        del context

    @dg.job
    def tuning_job() -> None:
        tune()

    good = {"limits": {"rows": 5, "ratio": 1}, "tables": ["a", "b"], "on": True}
    assert dg.validate_run_config(tuning_job, {"ops": {"tune": {"config": good}}})
    bad = {"limits": {"rows": True, "ratio": "x"}, "tables": ["a", 2], "on": 1}
    with pytest.raises(DefinitionError) as raised:
        dg.validate_run_config(tuning_job, {"ops": {"tune": {"config": bad}}})
    for problem in (
        "ops.tune.config.limits.rows: expected int, got True",
        "ops.tune.config.limits.ratio: expected float",
        "ops.tune.config.tables[1]: expected str, got 2",
        "ops.tune.config.on: expected bool, got 1",
    ):
        assert problem in str(raised.value)


def test_validate_run_config_needs_a_resolved_job(basics: Definitions) -> None:
    loose: Any = dg.define_asset_job("loose", "*")  # an asset job before Definitions resolves it
    with pytest.raises(DefinitionError, match="get_job"):
        dg.validate_run_config(loose, {})


# -- testing run status sensors ----------------------------------------------------------


def test_success_sensor_is_called_with_a_context_built_from_an_executed_job(
    run_status: Definitions, outbox: Path
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = run_status.get_job("nightly_load").execute_in_process(instance=instance)
    dagster_run = result.dagster_run
    dagster_event = result.get_job_success_event()
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_success",
        dagster_instance=instance,
        dagster_run=dagster_run,
        dagster_event=dagster_event,
    )
    run_status.get_sensor("alert_on_success")(context)
    assert outbox.read_text() == 'Job "nightly_load" succeeded.\n'
    assert context.dagster_run.status is dg.DagsterRunStatus.SUCCESS
    assert context.instance is instance


def test_failure_sensor_is_called_with_a_context_for_run_failure(
    run_status: Definitions, outbox: Path
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    job = run_status.get_job("nightly_load_fails")
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_failure",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_job_failure_event(),
    ).for_run_failure()
    assert isinstance(context, dg.RunFailureSensorContext)
    assert context.instance is instance
    run_status.get_sensor("alert_on_failure")(context)
    assert outbox.read_text().startswith(
        "Job \"nightly_load_fails\" failed. Error: step 'load_broken_feed' failed: "
        "Exception('feed unreachable!')"
    )


def test_request_job_sensor_called_directly_skips_its_own_job(run_status: Definitions) -> None:
    instance = dg.DagsterInstance.ephemeral()
    sensor = run_status.get_sensor("report_success_sensor")
    for job_name, run_config in (
        ("nightly_load", None),
        ("status_reporting_job", {"ops": {"status_report": {"config": {"job_name": "x"}}}}),
    ):
        result = run_status.get_job(job_name).execute_in_process(run_config, instance=instance)
        # Dagster's positional order: sensor name, event, instance, run
        context = dg.build_run_status_sensor_context(
            "report_success_sensor", result.get_job_success_event(), instance, result.dagster_run
        )
        answer = sensor(context)
        if job_name == "nightly_load":
            assert isinstance(answer, dg.RunRequest)
            assert dg.validate_run_config(
                run_status.get_job("status_reporting_job"), answer.run_config
            )
        else:
            assert answer == dg.SkipReason("Not reporting on the reporting job")
    assert [r.job_name for r in instance.get_runs()] == ["status_reporting_job", "nightly_load"]


def test_ephemeral_instance_records_runs_and_their_events(run_status: Definitions) -> None:
    instance = dg.DagsterInstance.ephemeral()
    job = run_status.get_job("nightly_load_fails")
    with pytest.raises(RunFailedError, match="feed unreachable"):
        job.execute_in_process(instance=instance)
    (run,) = instance.get_runs()
    assert run.status is dg.DagsterRunStatus.FAILURE and run.job_name == "nightly_load_fails"
    assert instance.get_run_by_id(run.run_id) == run
    logs = instance.all_logs(run.run_id)
    assert [e.dagster_event.message is not None for e in logs] == [False, True]
    assert [e.storage_id for e in logs] == ["1", "2"]


def test_a_run_has_no_event_for_a_status_it_did_not_reach(run_status: Definitions) -> None:
    result = run_status.get_job("nightly_load").execute_in_process()
    assert result.dagster_run.status == "SUCCESS"
    with pytest.raises(DefinitionError, match="ended SUCCESS, so it has no FAILURE event"):
        result.get_job_failure_event()


def test_run_status_context_tells_the_partition_of_the_run(run_status: Definitions) -> None:
    result = run_status.get_job("nightly_load").execute_in_process(
        tags={"dagster/partition": "2024-05-01"}
    )
    event = result.get_job_success_event()
    from_tags = dg.build_run_status_sensor_context("s", event, None, result.dagster_run)
    assert from_tags.partition_key == "2024-05-01"
    assert event.logging_tags["dagster/partition"] == "2024-05-01"
    given = dg.build_run_status_sensor_context(
        "s", event, None, result.dagster_run, partition_key="2024-06-01"
    )
    assert given.for_run_failure().partition_key == "2024-06-01"
