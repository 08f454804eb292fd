"""Partitions, run config and resources at tick time, against a real redis-server.

A request for a partition the job lacks, a run config that does not fit the
job, and a resource that cannot be built each end the tick as a FAILURE that
names the sensor and says why, with nothing launched; a partition's run
config comes from the job's partitioned config; a partitioned asset job
launched by a sensor runs that partition and its run carries
``dagster/partition``.
"""

from __future__ import annotations

import time

import pytest

from lookout._core.settings import Settings
from lookout._process.tick import TickRunner, tick_runner
from lookout._tools.location import load_definitions
from lookout.testing import Repositories
from lookout.workers.runs import Delivery, RunExecutor, new_run, status_event
from tests.locations.work_support import all_events

LOCATION = "tests.locations.partitioned_sensors"


@pytest.fixture
def runner(storage: Repositories, settings: Settings) -> TickRunner:
    return tick_runner(load_definitions(module=LOCATION), storage, settings)


def test_a_partition_the_job_lacks_fails_the_tick_naming_key_and_sensor(
    runner: TickRunner, storage: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BERTHS", "north,west")
    record = runner.tick("berth_sensor")
    assert record is not None and record.status == "FAILURE"
    assert record.error is not None
    assert "sensor 'berth_sensor'" in record.error
    assert "partition 'west' of job 'berth_job'" in record.error
    assert storage.launches.requests() == []
    assert storage.sensors.state("berth_sensor").cursor is None


def test_a_partitioned_asset_job_launched_by_a_sensor_runs_that_partition(
    runner: TickRunner, storage: Repositories, settings: Settings
) -> None:
    record = runner.tick("berth_sensor")
    assert record is not None and record.status == "SUCCESS"
    ((_, launch),) = storage.launches.requests()
    assert (launch.job_name, launch.partition_key, launch.run_key) == (
        "berth_job",
        "north",
        "north",
    )
    assert launch.tags["dagster/partition"] == "north"

    # Create the run as the launcher does, and execute it as a worker does.
    now = time.time()
    run = new_run(launch, runner.definitions, now)
    storage.runs.create([(run, status_event(run, run.status, now))])
    executor = RunExecutor(runner.definitions, storage.runs, settings)
    assert executor.deliver(run.run_id) is Delivery.EXECUTED
    finished = storage.runs.get(run.run_id)
    assert finished is not None and finished.status == "SUCCESS"
    assert finished.partition_key == "north" and finished.tags["dagster/partition"] == "north"
    materialized = [
        e
        for e in all_events(storage)
        if e.run_id == run.run_id and e.kind == "ASSET_MATERIALIZATION"
    ]
    assert [(e.asset_key, e.partition) for e in materialized] == [("berth_log", "north")]


def test_a_partition_s_run_config_comes_from_the_partitioned_config(
    runner: TickRunner, storage: Repositories
) -> None:
    record = runner.tick("inspection_sensor")
    assert record is not None and record.status == "SUCCESS"
    ((_, launch),) = storage.launches.requests()
    assert launch.run_config["ops"] == {"inspect_berth": {"config": {"berth": "south"}}}
    assert launch.tags["dagster/partition"] == "south"


def test_a_resource_that_cannot_be_built_fails_the_tick_with_the_reason(
    runner: TickRunner, storage: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARBOUR_UNREACHABLE", "1")
    record = runner.tick("harbour_master")
    assert record is not None and record.status == "FAILURE"
    assert record.error is not None
    assert "sensor 'harbour_master'" in record.error
    assert "resource 'harbour' failed to initialize" in record.error
    assert "harbour pier-3 does not answer" in record.error
    assert storage.launches.requests() == []

    monkeypatch.delenv("HARBOUR_UNREACHABLE")
    again = runner.tick("harbour_master")
    assert again is not None and again.status == "SUCCESS"
    ((_, launch),) = storage.launches.requests()
    assert (launch.run_key, launch.partition_key) == ("free-north", "north")


def test_a_config_field_of_the_wrong_type_fails_the_tick_naming_sensor_op_and_field(
    runner: TickRunner, storage: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SURVEY_DEPTH", "deep")
    record = runner.tick("survey_sensor")
    assert record is not None and record.status == "FAILURE"
    assert record.error is not None
    assert "sensor 'survey_sensor' asked for a run (run key 'depth-deep')" in record.error
    assert "job 'survey_job'" in record.error
    assert "ops.survey.config.depth" in record.error
    assert storage.launches.requests() == []

    monkeypatch.setenv("SURVEY_DEPTH", "40")
    good = runner.tick("survey_sensor")
    assert good is not None and good.status == "SUCCESS"
