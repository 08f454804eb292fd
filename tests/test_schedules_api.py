"""Schedules (the author side), in the shapes of Dagster's schedules guide and its tests.

``ScheduleDefinition``, ``@schedule``, ``build_schedule_context``,
``build_schedule_from_partitioned_job``, ``Definitions(schedules=...)``, a
schedule's next fire times in its time zone, and clear errors at definition
time.  Expected run requests, tags and skip messages are what Dagster 1.13
gives for the same code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

import lookout as dg
from lookout._base.errors import DefinitionError

UTC = dt.UTC
MONDAY_NINE = dt.datetime(2024, 6, 3, 9, 0, tzinfo=UTC)


@dg.op(config_schema={"voyage_date": str})
def log_voyage(context: dg.OpExecutionContext) -> str:
    return str(context.op_config["voyage_date"])


@dg.job
def voyage_job() -> None:
    log_voyage()


@dg.schedule(job=voyage_job, cron_schedule="0 6 * * *")
def voyage_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return dg.RunRequest(
        run_key=None,
        run_config={"ops": {"log_voyage": {"config": {"voyage_date": day}}}},
        tags={"day": day},
    )


@dg.schedule(job=voyage_job, cron_schedule="* * * * *")
def idle_schedule(context: dg.ScheduleEvaluationContext) -> dg.SkipReason:
    return dg.SkipReason("the harbour is closed")


ports = dg.StaticPartitionsDefinition(["leith", "oban"])


@dg.op
def moor(context: dg.OpExecutionContext) -> str:
    return context.partition_key


@dg.job(partitions_def=ports)
def mooring_job() -> None:
    moor()


@dg.schedule(cron_schedule="0 0 * * *", job=mooring_job)
def mooring_schedule() -> Iterator[dg.RunRequest]:
    for port in ["leith", "oban"]:
        yield dg.RunRequest(run_key=port, partition_key=port)


class TideResource(dg.ConfigurableResource):
    height: int

    def level(self) -> str:
        return f"{self.height}m"


@dg.schedule(job=voyage_job, cron_schedule="0 * * * *")
def tide_schedule(context: dg.ScheduleEvaluationContext, tide: TideResource) -> dg.RunRequest:
    return dg.RunRequest(run_key=tide.level())


daily_tides = dg.DailyPartitionsDefinition(start_date="2024-05-01", timezone="Europe/Lisbon")


@dg.asset(partitions_def=daily_tides)
def tide_log() -> None:
    return None


tide_log_job = dg.define_asset_job("tide_log_job", selection=[tide_log])


def _run_requests(data: Any) -> list[tuple[Any, ...]]:
    return [(r.run_key, r.run_config, r.tags, r.partition_key) for r in data.run_requests]


def test_schedule_definition_names_itself_after_its_job() -> None:
    sched = dg.ScheduleDefinition(
        job=voyage_job,
        cron_schedule="15 5 * * 1-5",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        execution_timezone="America/Los_Angeles",
    )
    assert (sched.name, sched.job_name, sched.cron_schedule) == (
        "voyage_job_schedule",
        "voyage_job",
        "15 5 * * 1-5",
    )
    assert sched.default_status is dg.DefaultScheduleStatus.RUNNING
    assert sched.execution_timezone == "America/Los_Angeles"


def test_schedule_definition_requests_one_run_with_its_config_and_tags() -> None:
    sched = dg.ScheduleDefinition(
        name="nightly_voyage",
        job=voyage_job,
        cron_schedule="0 0 * * *",
        run_config=dg.RunConfig(ops={"log_voyage": {"config": {"voyage_date": "fixed"}}}),
        tags={"crew": "night"},
    )
    data = sched.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=MONDAY_NINE))
    assert _run_requests(data) == [
        (
            None,
            {
                "loggers": {},
                "resources": {},
                "ops": {"log_voyage": {"config": {"voyage_date": "fixed"}}},
                "execution": {},
            },
            {"crew": "night", "dagster/schedule_name": "nightly_voyage"},
            None,
        )
    ]
    assert data.skip_message is None


def test_schedule_function_reads_its_scheduled_time_and_its_config_validates() -> None:
    context = dg.build_schedule_context(scheduled_execution_time=MONDAY_NINE)
    request = voyage_schedule(context)
    assert request.tags == {"day": "2024-06-03"}
    assert dg.validate_run_config(voyage_job, request.run_config)
    data = voyage_schedule.evaluate_tick(context)
    assert _run_requests(data) == [
        (
            None,
            {"ops": {"log_voyage": {"config": {"voyage_date": "2024-06-03"}}}},
            {"day": "2024-06-03", "dagster/schedule_name": "voyage_schedule"},
            None,
        )
    ]


def test_schedule_skip_reason_becomes_the_skip_message() -> None:
    data = idle_schedule.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=MONDAY_NINE)
    )
    assert data.run_requests == [] and data.skip_message == "the harbour is closed"


def test_schedule_yields_a_run_per_partition_with_run_keys() -> None:
    data = mooring_schedule.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=MONDAY_NINE)
    )
    tags = {
        "dagster/partition_set": "mooring_job_partition_set",
        "dagster/schedule_name": "mooring_schedule",
    }
    assert [(r.run_key, r.partition_key, r.tags) for r in data.run_requests] == [
        ("leith", "leith", {"dagster/partition": "leith", **tags}),
        ("oban", "oban", {"dagster/partition": "oban", **tags}),
    ]


def test_schedule_gets_its_resource_from_the_context() -> None:
    with dg.build_schedule_context(
        scheduled_execution_time=MONDAY_NINE, resources={"tide": TideResource(height=4)}
    ) as context:
        data = tide_schedule.evaluate_tick(context)
    assert [r.run_key for r in data.run_requests] == ["4m"]


def test_schedule_from_a_partitioned_asset_job_runs_the_last_ended_partition() -> None:
    sched = dg.build_schedule_from_partitioned_job(
        dg.define_asset_job("tide_log_job", selection=[tide_log])
    )
    assert (sched.name, sched.cron_schedule, sched.execution_timezone) == (
        "tide_log_job_schedule",
        "0 0 * * *",
        "Europe/Lisbon",
    )
    data = sched.evaluate_tick(
        dg.build_schedule_context(
            scheduled_execution_time=dt.datetime(
                2024, 6, 3, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))
            )
        )
    )
    assert _run_requests(data) == [
        (
            "2024-06-02",
            {},
            {
                "dagster/partition": "2024-06-02",
                "dagster/partition_set": "tide_log_job_partition_set",
                "dagster/schedule_name": "tide_log_job_schedule",
            },
            "2024-06-02",
        )
    ]


def test_schedule_from_a_partitioned_job_takes_an_hour_and_minute() -> None:
    @dg.daily_partitioned_config(start_date=dt.datetime(2024, 1, 1))
    def voyage_config(start: dt.datetime, _end: dt.datetime) -> dict[str, Any]:
        return {"ops": {"log_voyage": {"config": {"voyage_date": start.strftime("%Y-%m-%d")}}}}

    @dg.job(config=voyage_config)
    def dated_voyage_job() -> None:
        log_voyage()

    sched = dg.build_schedule_from_partitioned_job(
        dated_voyage_job, hour_of_day=3, minute_of_hour=15
    )
    assert (sched.cron_schedule, sched.execution_timezone) == ("15 3 * * *", "UTC")
    data = sched.evaluate_tick(
        dg.build_schedule_context(
            scheduled_execution_time=dt.datetime(2024, 2, 1, 3, 15, tzinfo=UTC)
        )
    )
    [request] = data.run_requests
    assert (request.run_key, request.partition_key) == ("2024-01-31", "2024-01-31")
    assert request.run_config["ops"] == {"log_voyage": {"config": {"voyage_date": "2024-01-31"}}}


def test_definitions_take_schedules_and_their_jobs() -> None:
    defs = dg.Definitions(schedules=[voyage_schedule, mooring_schedule])
    assert defs.get_schedule("voyage_schedule") is voyage_schedule
    assert defs.has_job("voyage_job") and defs.has_job("mooring_job")


def test_asset_target_gets_dagster_s_anonymous_job() -> None:
    sched = dg.ScheduleDefinition(name="tidy", cron_schedule="0 0 * * *", target=tide_log)
    assert sched.job_name == "__anonymous_asset_job_tidy"


@pytest.mark.parametrize(
    ("cron", "timezone", "after", "expected"),
    [
        # 02:30 does not exist when New York springs forward: it fires at 03:00.
        (
            "30 2 * * *",
            "America/New_York",
            dt.datetime(2024, 3, 8, 12, tzinfo=UTC),
            ["2024-03-09T02:30:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"],
        ),
        # 01:30 happens twice when it falls back: a daily schedule fires once, the later.
        (
            "30 1 * * *",
            "America/New_York",
            dt.datetime(2024, 11, 2, 12, tzinfo=UTC),
            ["2024-11-03T01:30:00-05:00", "2024-11-04T01:30:00-05:00"],
        ),
        # An hourly schedule fires in both 01:00 hours.
        (
            "0 * * * *",
            "America/New_York",
            dt.datetime(2024, 11, 3, 4, tzinfo=UTC),
            ["2024-11-03T01:00:00-04:00", "2024-11-03T01:00:00-05:00", "2024-11-03T02:00:00-05:00"],
        ),
        (
            "0 9 * * 1-5",
            "Europe/Berlin",
            dt.datetime(2024, 3, 29, 12, tzinfo=UTC),
            ["2024-04-01T09:00:00+02:00", "2024-04-02T09:00:00+02:00"],
        ),
    ],
)
def test_next_fire_times_follow_the_schedule_time_zone_through_dst(
    cron: str, timezone: str, after: dt.datetime, expected: list[str]
) -> None:
    sched = dg.ScheduleDefinition(
        name="fire", job=voyage_job, cron_schedule=cron, execution_timezone=timezone
    )
    times = sched.next_fire_times(after, count=len(expected))
    assert [t.isoformat() for t in times] == expected
    assert dg.next_fire_times(cron, after.timestamp(), len(expected), timezone) == times


def test_malformed_cron_string_is_an_error_naming_the_schedule() -> None:
    with pytest.raises(
        DefinitionError, match=r"schedule 'broken_cron': invalid cron schedule '\* \* \*'"
    ):
        dg.ScheduleDefinition(name="broken_cron", job=voyage_job, cron_schedule="* * *")
    with pytest.raises(DefinitionError, match="schedule 'bad_minute'"):

        @dg.schedule(cron_schedule="61 * * * *", job=voyage_job)
        def bad_minute() -> None:
            return None


def test_unknown_time_zone_is_an_error_naming_the_schedule() -> None:
    with pytest.raises(
        DefinitionError, match="schedule 'lost_at_sea': unknown time zone 'Ocean/Nowhere'"
    ):
        dg.ScheduleDefinition(
            name="lost_at_sea",
            job=voyage_job,
            cron_schedule="0 0 * * *",
            execution_timezone="Ocean/Nowhere",
        )


def test_schedule_without_a_target_is_an_error() -> None:
    with pytest.raises(DefinitionError, match="schedule 'adrift'"):

        @dg.schedule(cron_schedule="0 0 * * *")
        def adrift() -> None:
            return None
