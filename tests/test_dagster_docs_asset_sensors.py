"""Dagster's asset-sensor documentation examples, ticked by lookout against a real Redis.

Assets are materialized in process and the events of that run are put on
the event stream as a worker would put them, then the sensors tick.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import lookout as dg
from lookout import Definitions, ExecuteInProcessResult, Settings
from lookout._author.events import entry_from_event
from lookout._author.run_events import run_events
from lookout.testing import EventKind, Repositories, TickRunner, load_definitions, tick_runner
from tests.docs_support import launched, tick

LOCATION = Path(__file__).parent / "locations" / "docs_asset_sensors.py"


@pytest.fixture
def defs() -> Definitions:
    return load_definitions(file=str(LOCATION))


@pytest.fixture
def runner(defs: Definitions, storage: Repositories, settings: Settings) -> TickRunner:
    return tick_runner(defs, storage, settings)


def materialize(
    runner: TickRunner, asset: str, partition_key: str | None = None
) -> ExecuteInProcessResult:
    """Materialize one asset of the location and report its run's events to the stream."""
    assets = [a for a in runner.definitions.assets if a.key == dg.AssetKey(asset)]
    result = dg.materialize(assets, partition_key=partition_key)
    for event in run_events(result.dagster_run, result.materializations, result.error, time.time()):
        runner.events.append(event)
    return result


def materialization_ids(runner: TickRunner) -> list[str]:
    return [
        eid
        for eid, e in runner.events.read("0-0", 100)
        if e.kind == EventKind.ASSET_MATERIALIZATION.value
    ]


def test_asset_sensor_keys_each_run_by_its_cursor_and_passes_the_asset_key_path(
    runner: TickRunner, defs: Definitions
) -> None:
    assert tick(runner, "orders_table_sensor").status == "SKIPPED"
    materialize(runner, "daily_orders")
    record = tick(runner, "orders_table_sensor")
    assert record.status == "SUCCESS" and len(record.run_request_ids) == 1
    (run,) = launched(runner)
    assert run.job_name == "reader_job"
    assert run.run_key == materialization_ids(runner)[0]
    assert run.run_config == {
        "ops": {"read_materialization": {"config": {"asset_key": ["daily_orders"]}}}
    }
    # the config the sensor built runs the job it targets
    result = defs.get_job("reader_job").execute_in_process(run_config=run.run_config)
    assert result.output_for_node("read_materialization") == ["daily_orders"]
    assert tick(runner, "orders_table_sensor").status == "SKIPPED"
    materialize(runner, "weekly_digest")  # another asset: nothing for this sensor
    assert tick(runner, "orders_table_sensor").status == "SKIPPED"
    assert len(launched(runner)) == 1


def test_asset_sensor_taking_no_arguments_targets_its_job_by_name(
    runner: TickRunner, defs: Definitions
) -> None:
    materialize(runner, "daily_orders")
    # with no cursor yet, the sensor sees the latest materialization, as Dagster's does
    record = tick(runner, "daily_orders_sensor")
    assert record.status == "SUCCESS"
    assert [(r.job_name, r.run_key) for r in launched(runner)] == [("digest_job", None)]
    assert tick(runner, "daily_orders_sensor").status == "SKIPPED"
    assert defs.get_sensor("daily_orders_sensor")() == dg.RunRequest()


def test_asset_sensor_reads_the_upstream_partition_from_logging_tags(runner: TickRunner) -> None:
    assert tick(runner, "partition_follower").status == "SKIPPED"
    materialize(runner, "daily_orders", partition_key="2024-05-01")
    assert tick(runner, "partition_follower").status == "SUCCESS"
    (run,) = launched(runner)
    assert (run.job_name, run.run_key) == ("digest_job", "2024-05-01")
    assert run.tags["dagster/partition"] == "2024-05-01"
    materialize(runner, "daily_orders")  # no partition: the sensor returns None
    assert tick(runner, "partition_follower").status == "SKIPPED"
    assert len(launched(runner)) == 1


def test_asset_sensor_called_as_a_plain_function_with_context_and_event(
    defs: Definitions,
) -> None:
    result = dg.materialize([a for a in defs.assets if a.key == dg.AssetKey("daily_orders")])
    event = next(
        e
        for e in run_events(result.dagster_run, result.materializations, result.error, 0.0)
        if e.asset_key == "daily_orders"
    )
    asset_event = entry_from_event("42-0", event)
    sensor = defs.get_sensor("orders_table_sensor")
    (request,) = list(sensor(dg.build_sensor_context(cursor="42-0"), asset_event))
    assert request.run_key == "42-0"
    # A list, as Dagster's AssetKey.path is.
    assert request.run_config["ops"]["read_materialization"]["config"]["asset_key"] == [
        "daily_orders"
    ]
