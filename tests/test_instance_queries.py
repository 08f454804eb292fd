"""Instance and run queries in process, as Dagster's docs and tests make them."""

from __future__ import annotations

import datetime
import time
from typing import Any

import lookout as dg


@dg.op(config_schema={"fail": bool})
def brew(context: dg.OpExecutionContext) -> int:
    if context.op_config["fail"]:
        raise RuntimeError("the kettle broke")
    return 1


@dg.job(tags={"team": "kitchen"})
def brew_job() -> None:
    brew()


@dg.asset
def pastry() -> int:
    return 1


def _run(instance: dg.DagsterInstance, fail: bool, **tags: str) -> Any:
    return brew_job.execute_in_process(
        run_config={"ops": {"brew": {"config": {"fail": fail}}}},
        instance=instance,
        raise_on_error=False,
        tags=tags,
    )


def test_runs_are_filtered_by_job_status_tags_and_creation_time() -> None:
    instance = dg.DagsterInstance.ephemeral()
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    ok = _run(instance, False, shift="day")
    bad = _run(instance, True, shift="night")
    dg.materialize([pastry], instance=instance)

    assert [r.run_id for r in instance.get_runs()][1:] == [bad.run_id, ok.run_id]
    failed = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    assert [r.run_id for r in failed] == [bad.run_id]
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name="brew_job", tags={"team": "kitchen"}, created_after=start)
    )
    assert [r.dagster_run.run_id for r in records] == [bad.run_id, ok.run_id]
    assert records[0].create_timestamp >= start
    by_tag = instance.get_runs(filters=dg.RunsFilter(tags={"shift": "day"}))
    assert [r.run_id for r in by_tag] == [ok.run_id]
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=5)
    assert instance.get_run_records(filters=dg.RunsFilter(created_after=later)) == []


def test_event_records_are_filtered_by_type_and_asset() -> None:
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([pastry], instance=instance)
    time.sleep(0.01)
    dg.materialize([pastry], instance=instance)
    bad = _run(instance, True)
    records = instance.get_event_records(
        dg.EventRecordsFilter(
            event_type=dg.DagsterEventType.ASSET_MATERIALIZATION, asset_key=dg.AssetKey("pastry")
        ),
        limit=1,
    )
    (newest,) = records
    assert newest.storage_id == max(
        r.storage_id
        for r in instance.fetch_materializations(dg.AssetKey("pastry"), limit=10).records
    )
    failures = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.RUN_FAILURE)
    )
    assert [r.run_id for r in failures] == [bad.run_id]
    page = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("pastry")), limit=1, ascending=True
    )
    assert page.has_more and len(page.records) == 1
    rest = instance.fetch_materializations(
        dg.AssetKey("pastry"), limit=5, cursor=page.cursor, ascending=True
    )
    assert not rest.has_more and rest.records[0].storage_id > page.records[0].storage_id


def test_in_process_results_give_their_run_events() -> None:
    instance = dg.DagsterInstance.ephemeral()
    bad = _run(instance, True)
    failure = bad.get_run_failure_event()
    assert "the kettle broke" in (failure.message or "")
    ok = _run(instance, False)
    assert ok.get_run_success_event().job_name == "brew_job"
    context = dg.build_run_status_sensor_context(
        sensor_name="notify",
        dagster_instance=instance,
        dagster_run=bad.dagster_run,
        dagster_event=failure,
    ).for_run_failure()
    assert context.dagster_run.status == dg.DagsterRunStatus.FAILURE


def test_definitions_give_their_sensors_jobs_assets_and_schedules_by_name() -> None:
    @dg.sensor(job=brew_job)
    def watch() -> None:
        return None

    defs = dg.Definitions(assets=[pastry], jobs=[brew_job], sensors=[watch])
    assert defs.get_sensor_def("watch") is watch
    assert defs.get_job_def("brew_job").name == "brew_job"
    assert defs.get_assets_def("pastry") is pastry


def test_run_status_sensors_monitor_jobs_by_selector() -> None:
    @dg.run_failure_sensor(monitored_jobs=[dg.JobSelector(job_name="brew_job")])
    def one_job(context: dg.RunFailureSensorContext) -> None:
        return None

    @dg.run_failure_sensor(monitored_jobs=[dg.CodeLocationSelector(location_name="here")])
    def one_location(context: dg.RunFailureSensorContext) -> None:
        return None

    @dg.run_failure_sensor(monitor_all_code_locations=True)
    def everywhere(context: dg.RunFailureSensorContext) -> None:
        return None

    assert one_job.options["monitored_jobs"] == ["brew_job"] and not one_job.options["monitor_all"]
    assert one_location.options["monitor_all"] and everywhere.options["monitor_all"]
