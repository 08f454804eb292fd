"""Schedule ticks and dynamic partitions on a worker's runner, against a real redis-server.

A schedule's tick runs for its scheduled time, tags its runs as Dagster does,
never launches twice for one scheduled time, skips missed times after
downtime but the most recent, and is due next at its next fire time.  A
sensor's dynamic partitions requests land in Redis with its commit, where
the next tick and the partition check of run requests see them.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

import lookout as dg
from lookout._base.wire import DefaultSensorStatus
from lookout._core.settings import Settings
from lookout._process.tick import TickRunner, tick_runner
from lookout._tools.location import load_definitions
from lookout._tools.operator import list_schedules, set_schedule_status
from lookout.testing import Repositories
from lookout.workers.runs import Delivery, RunExecutor, new_run, status_event

LOCATION = "tests.locations.sched_cron"
# A Monday in winter, 10:00:00 UTC (Lisbon is on UTC then).
MONDAY = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY + 2.5)


@pytest.fixture
def runner(storage: Repositories, settings: Settings, clock: Clock) -> TickRunner:
    defs = load_definitions(module=LOCATION)
    for name in ("every_minute", "quay_schedule"):
        set_schedule_status(defs, storage.sensors, name, DefaultSensorStatus.RUNNING)
    return tick_runner(defs, storage, settings, clock=clock)


def scheduled_tick(runner: TickRunner, name: str, tick_id: str, due_at: float) -> None:
    """Claim a tick as the scheduler does, due at ``due_at``."""
    now = runner.clock()
    assert runner.ticks.claim(name, tick_id, now, now + 90) == tick_id
    runner.tick(name, tick_id=tick_id, due_at=due_at)


def test_a_schedule_tick_runs_for_its_scheduled_time_with_dagster_s_tags(
    runner: TickRunner, storage: Repositories
) -> None:
    scheduled_tick(runner, "every_minute", "t1", MONDAY)
    (record,) = storage.ticks.history("every_minute")
    assert (record.status, record.due_at, record.accepted) == ("SUCCESS", MONDAY, "1")
    ((_, launch),) = storage.launches.requests()
    assert launch.job_name == "tally_job" and launch.sensor == "every_minute"
    assert launch.run_key is None
    assert launch.tags == {
        "dagster/schedule_name": "every_minute",
        ".dagster/scheduled_execution_time": "2026-01-05T10:00:00+00:00",
    }
    # Due next at the next minute, where the scheduler will claim it.
    assert storage.schedule.due_times(["every_minute"]) == [MONDAY + 60]


def test_one_scheduled_time_never_launches_twice_even_from_two_ticks(
    runner: TickRunner, storage: Repositories
) -> None:
    scheduled_tick(runner, "every_minute", "t1", MONDAY)
    # A tick of the same time again (a lost tick ticked once more, or a trigger).
    scheduled_tick(runner, "every_minute", "t2", MONDAY + 1.0)
    first, second = storage.ticks.history("every_minute")[::-1]
    assert (first.accepted, second.accepted) == ("1", "0")
    assert second.due_at == MONDAY
    assert len(storage.launches.requests()) == 1
    # A redelivered tick finds its commit made and changes nothing.
    assert runner.tick("every_minute", tick_id="t2", due_at=MONDAY) is None
    assert len(storage.launches.requests()) == 1


def test_after_downtime_only_the_most_recent_missed_time_runs(
    runner: TickRunner, storage: Repositories, clock: Clock
) -> None:
    # Due at 10:00, but the scheduler was down until 10:07:30.
    clock.now = MONDAY + 7 * 60 + 30
    scheduled_tick(runner, "every_minute", "t1", MONDAY)
    ((_, launch),) = storage.launches.requests()
    assert launch.tags[".dagster/scheduled_execution_time"] == "2026-01-05T10:07:00+00:00"
    assert storage.schedule.due_times(["every_minute"]) == [MONDAY + 8 * 60]


def test_a_schedule_s_run_of_a_partitioned_asset_job_runs_that_partition(
    runner: TickRunner, storage: Repositories, settings: Settings
) -> None:
    scheduled_tick(runner, "quay_schedule", "t1", MONDAY)
    ((_, launch),) = storage.launches.requests()
    assert (launch.job_name, launch.partition_key) == ("quay_job", "east")
    assert launch.tags["dagster/partition"] == "east"
    assert launch.tags["hour"] == "10"  # the scheduled time, in Europe/Lisbon
    assert storage.schedule.due_times(["quay_schedule"]) == [MONDAY + 300]
    now = time.time()
    run = new_run(launch, runner.definitions, now)
    storage.runs.create([(run, status_event(run, run.status, now))])
    assert RunExecutor(runner.definitions, storage.runs, settings).deliver(run.run_id) is (
        Delivery.EXECUTED
    )
    finished = storage.runs.get(run.run_id)
    assert finished is not None and finished.status == "SUCCESS"
    assert finished.tags["dagster/partition"] == "east"
    assert finished.tags["dagster/schedule_name"] == "quay_schedule"


def test_a_user_run_key_dedupes_within_a_scheduled_time_only(
    runner: TickRunner, storage: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUAY_RUN_KEY", "east-run")
    scheduled_tick(runner, "quay_schedule", "t1", MONDAY)
    scheduled_tick(runner, "quay_schedule", "t2", MONDAY)
    scheduled_tick(runner, "quay_schedule", "t3", MONDAY + 300)
    launches = [launch for _, launch in storage.launches.requests()]
    assert [la.tags[".dagster/scheduled_execution_time"] for la in launches] == [
        "2026-01-05T10:00:00+00:00",
        "2026-01-05T10:05:00+00:00",
    ]
    assert all(la.tags["dagster/run_key"] == "east-run" for la in launches)


def test_a_partition_the_schedule_s_job_lacks_fails_the_tick_naming_it(
    runner: TickRunner, storage: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUAY_PARTITION", "south")
    scheduled_tick(runner, "quay_schedule", "t1", MONDAY)
    (record,) = storage.ticks.history("quay_schedule")
    assert record.status == "FAILURE" and record.error is not None
    assert "schedule 'quay_schedule'" in record.error
    assert "`south` in job 'quay_job'" in record.error
    assert storage.launches.requests() == []
    # A failed tick still moves on to the next fire time.
    assert storage.schedule.due_times(["quay_schedule"]) == [MONDAY + 300]


def test_schedules_are_listed_and_a_started_one_is_due_at_its_next_fire_time(
    runner: TickRunner, storage: Repositories
) -> None:
    listed = list_schedules(runner.definitions, storage.sensors, storage.schedule)
    rows = {r.name: r for r in listed}
    assert rows["every_minute"].status == "RUNNING"
    assert rows["quay_schedule"].timezone == "Europe/Lisbon"
    next_fire = rows["every_minute"].next_fire
    assert next_fire is not None and next_fire % 60 == 0 and next_fire > time.time() - 1
    set_schedule_status(
        runner.definitions, storage.sensors, "every_minute", DefaultSensorStatus.STOPPED
    )
    assert storage.schedule.due_times(["every_minute"]) == [None]


def test_a_dynamic_partition_added_by_a_sensor_is_seen_by_the_next_tick_and_checks(
    runner: TickRunner, storage: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKS", "d1,d2")
    record = runner.tick("dock_opener")
    # Its own run requests for the docks it adds pass the partition check.
    assert record is not None and record.status == "SUCCESS", record
    assert storage.partitions.get_dynamic_partitions("docks") == ["d1", "d2"]
    assert storage.partitions.has_dynamic_partition("docks", "d2")
    launched = [la.partition_key for _, la in storage.launches.requests()]
    assert launched == ["d1", "d2"]

    # The next tick reads them through context.instance, from Redis.
    record = runner.tick("dock_reader")
    assert record is not None and record.status == "SUCCESS", record
    launched = [la.partition_key for _, la in storage.launches.requests()]
    assert launched == ["d1", "d2", "d1", "d2"]

    # A dock nobody added fails the tick, naming it.
    monkeypatch.setenv("EXTRA_DOCK", "d9")
    record = runner.tick("dock_reader")
    assert record is not None and record.status == "FAILURE"
    assert record.error is not None and "partition 'd9' of job 'dock_job'" in record.error


def test_a_failed_tick_adds_no_dynamic_partition(
    runner: TickRunner, storage: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A request for a partition nobody added fails dock_reader's tick; the
    # opener's tick adds "d3" with its commit.
    monkeypatch.setenv("DOCKS", "d3")
    monkeypatch.setenv("EXTRA_DOCK", "d9")
    storage.partitions.add_dynamic_partitions("docks", ["d0"])
    assert runner.tick("dock_reader") is not None
    assert storage.partitions.get_dynamic_partitions("docks") == ["d0"]
    monkeypatch.delenv("EXTRA_DOCK")
    assert runner.tick("dock_opener") is not None
    assert storage.partitions.get_dynamic_partitions("docks") == ["d0", "d3"]
    # Adding a key again keeps its place.
    storage.partitions.add_dynamic_partitions("docks", ["d3", "d4"])
    assert storage.partitions.get_dynamic_partitions("docks") == ["d0", "d3", "d4"]


def test_a_schedule_request_that_cannot_be_stored_fails_the_tick_naming_the_request(
    storage: Repositories, settings: Settings, clock: Clock
) -> None:
    @dg.op
    def weigh() -> int:
        return 1

    @dg.job
    def weigh_job() -> None:
        weigh()

    @dg.schedule(job=weigh_job, cron_schedule="* * * * *")
    def unstorable(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        # A value the codec refuses: the tick fails before anything is committed.
        return dg.RunRequest(run_config={"ops": {"weigh": {"config": {"at": object()}}}})

    defs = dg.Definitions(jobs=[weigh_job], schedules=[unstorable])
    set_schedule_status(defs, storage.sensors, "unstorable", DefaultSensorStatus.RUNNING)
    scheduled_tick(tick_runner(defs, storage, settings, clock=clock), "unstorable", "t1", MONDAY)
    (record,) = storage.ticks.history("unstorable")
    assert record.status == "FAILURE" and record.error is not None
    assert "schedule 'unstorable': run request 0 cannot be stored" in record.error
    assert storage.launches.requests() == []
