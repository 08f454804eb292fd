"""What Dagster 1.13's tests read of a sensor context and of a ``@repository``.

``build_sensor_context`` takes ``repository_def=``, ``repository_name=`` and
``last_sensor_start_time=`` and the context answers them, with Dagster's rule
for ``is_first_tick_since_sensor_start``; ``@repository`` takes schedules and
answers Dagster's repository lookups.  Values are Dagster 1.13's for the same calls.
"""

from __future__ import annotations

from typing import Any

import lookout as dg


@dg.asset
def tide_table() -> int:
    return 7


@dg.op
def read_gauge() -> int:
    return 3


@dg.job
def gauge_job() -> None:
    read_gauge()


@dg.sensor(job=gauge_job)
def harbour_sensor(context: dg.SensorEvaluationContext) -> Any:
    if context.is_first_tick_since_sensor_start:
        return dg.SkipReason("warming up")
    return dg.RunRequest(run_key=context.repository_name)


gauge_schedule = dg.ScheduleDefinition(job=gauge_job, cron_schedule="30 4 * * *")


@dg.repository
def harbour_repo() -> list[Any]:
    return [tide_table, gauge_job, harbour_sensor, gauge_schedule]


def test_a_plain_context_is_on_its_first_tick() -> None:
    context = dg.build_sensor_context()
    assert context.is_first_tick_since_sensor_start is True
    assert context.last_sensor_start_time is None
    assert context.repository_name is None
    assert context.repository_def is None


def test_first_tick_follows_the_last_start_and_the_last_completed_tick() -> None:
    started = dg.build_sensor_context(last_sensor_start_time=100.0, repository_name="docks")
    assert started.last_sensor_start_time == 100.0
    assert started.repository_name == "docks"
    assert started.is_first_tick_since_sensor_start is True  # no tick has completed yet

    ticked_since = dg.SensorEvaluationContext(
        last_tick_completion_time=150.0, last_sensor_start_time=100.0
    )
    assert ticked_since.is_first_tick_since_sensor_start is False
    restarted = dg.SensorEvaluationContext(
        last_tick_completion_time=150.0, last_sensor_start_time=200.0
    )
    assert restarted.is_first_tick_since_sensor_start is True
    never_started = dg.SensorEvaluationContext(last_tick_completion_time=150.0)
    assert never_started.is_first_tick_since_sensor_start is False


def test_a_sensor_reads_those_fields_through_evaluate_tick() -> None:
    first = harbour_sensor.evaluate_tick(dg.build_sensor_context(repository_name="docks"))
    assert first.skip_message == "warming up"
    later = harbour_sensor.evaluate_tick(
        dg.SensorEvaluationContext(repository_name="docks", last_tick_completion_time=5.0)
    )
    assert [r.run_key for r in later.run_requests] == ["docks"]


def test_repository_def_is_the_definitions_a_test_passes() -> None:
    context = dg.build_sensor_context(repository_def=harbour_repo)
    assert context.repository_def is harbour_repo
    assert context.repository_def.get_job("gauge_job").name == "gauge_job"


def test_a_repository_takes_schedules_and_answers_dagsters_lookups() -> None:
    assert harbour_repo.has_sensor_def("harbour_sensor")
    assert not harbour_repo.has_sensor_def("lighthouse_sensor")
    assert harbour_repo.has_schedule_def("gauge_job_schedule")
    assert [s.name for s in harbour_repo.sensor_defs] == ["harbour_sensor"]
    assert [s.name for s in harbour_repo.schedule_defs] == ["gauge_job_schedule"]
    assert harbour_repo.job_names == ["gauge_job", "__ASSET_JOB"]
    assert [j.name for j in harbour_repo.get_all_jobs()] == ["__ASSET_JOB", "gauge_job"]
    assert harbour_repo.get_schedule_def("gauge_job_schedule") is gauge_schedule
    assert harbour_repo.get_repository_def() is harbour_repo
