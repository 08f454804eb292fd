"""Instance and record lookups sensors make, as Dagster 1.13 answers them on an ephemeral instance.

``has_asset_key``, ``get_latest_materialization_events``, ``get_run_ids``; a
run's ``is_success``/``is_failure``/``is_finished``; a record's
``asset_event``/``event_type`` and an entry's ``job_name``.
"""

from __future__ import annotations

import lookout as dg


@dg.asset
def river_levels() -> int:
    return 8


@dg.asset
def rainfall() -> int:
    return 2


@dg.op
def measure() -> int:
    return 1


@dg.job
def survey_job() -> None:
    measure()


@dg.op
def break_gauge() -> None:
    raise ValueError("gauge broke")


@dg.job
def broken_job() -> None:
    break_gauge()


def test_lookups_over_materializations_and_runs() -> None:
    instance = dg.DagsterInstance.ephemeral()
    assert not instance.has_asset_key(dg.AssetKey("river_levels"))

    dg.materialize([river_levels], instance=instance)
    survey = survey_job.execute_in_process(instance=instance).run_id
    broken = broken_job.execute_in_process(instance=instance, raise_on_error=False).run_id

    assert instance.has_asset_key(dg.AssetKey("river_levels"))
    assert not instance.has_asset_key(dg.AssetKey("rainfall"))

    latest = instance.get_latest_materialization_events(
        [dg.AssetKey("river_levels"), dg.AssetKey("rainfall")]
    )
    assert list(latest) == [dg.AssetKey("river_levels")]  # never-materialized keys are left out
    assert latest[dg.AssetKey("river_levels")].job_name == "__ephemeral_asset_job__"

    assert instance.get_run_ids(dg.RunsFilter(job_name="survey_job")) == [survey]
    assert instance.get_run_ids(limit=1) == [broken]
    assert len(instance.get_run_ids()) == 3


def test_a_run_answers_dagsters_status_questions() -> None:
    instance = dg.DagsterInstance.ephemeral()
    ok = survey_job.execute_in_process(instance=instance).run_id
    failed = broken_job.execute_in_process(instance=instance, raise_on_error=False).run_id

    good = instance.get_run_by_id(ok)
    bad = instance.get_run_by_id(failed)
    assert good is not None and bad is not None
    assert (good.is_finished, good.is_success, good.is_failure) == (True, True, False)
    assert (bad.is_finished, bad.is_success, bad.is_failure) == (True, False, True)
    assert bad.is_failure_or_canceled and not good.is_failure_or_canceled
    started = dg.DagsterRun(run_id="r-1", job_name="survey_job", status=dg.DagsterRunStatus.STARTED)
    assert not started.is_finished
    canceled = dg.DagsterRun(
        run_id="r-2", job_name="survey_job", status=dg.DagsterRunStatus.CANCELED
    )
    assert canceled.is_finished and canceled.is_failure_or_canceled and not canceled.is_failure


def test_a_record_names_its_asset_event_and_type() -> None:
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([river_levels], instance=instance)
    (record,) = instance.fetch_materializations(dg.AssetKey("river_levels"), limit=1).records
    assert isinstance(record.asset_event, dg.AssetMaterialization)
    assert record.asset_event.asset_key == dg.AssetKey("river_levels")
    assert record.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
    assert record.event_log_entry.job_name == "__ephemeral_asset_job__"
