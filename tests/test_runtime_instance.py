"""``context.instance`` on the runtime: Dagster's instance queries answered from Redis.

Runs and events are written through the storage layer as the launcher and
a run's executor write them; the runner's instance then answers as the
in-process ``DagsterInstance`` does, reading one asset's own stream or one
run index at a time.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

import lookout as dg
from lookout import Settings
from lookout.testing import EventKind, Repositories, RunEvent, tick_runner
from lookout.testing import StoredRun as RunRecord

DEFS = dg.Definitions(assets=[dg.AssetSpec("orders"), dg.AssetSpec("refunds")])


def _instance(storage: Repositories, settings: Settings) -> Any:
    return tick_runner(DEFS, storage, settings).instance


def _run_event(run: RunRecord, **fields: Any) -> RunEvent:
    return RunEvent(run_id=run.run_id, job_name=run.job_name, timestamp=time.time(), **fields)


def _finished_run(
    storage: Repositories, run_id: str, job: str, status: str, sensor: str | None = None
) -> RunRecord:
    """A run created, started and finished as the launcher and a worker do it."""
    tags = {"dagster/sensor_name": sensor} if sensor else {}
    run = RunRecord(run_id, job, "QUEUED", time.time(), sensor=sensor, tags=tags)
    status_event = EventKind.RUN_STATUS.value
    storage.runs.create([(run, _run_event(run, kind=status_event, status="QUEUED"))])
    owner = f"worker-{run_id}"
    storage.runs.start(
        run_id, owner, time.time(), 15.0, _run_event(run, kind=status_event, status="STARTED")
    )
    materialized = _run_event(
        run,
        kind=EventKind.ASSET_MATERIALIZATION.value,
        asset_key="orders",
        partition=f"day-{run_id}",
        metadata={"rows": ["int", len(run_id)]},
    )
    assert storage.runs.emit_event(run_id, owner, materialized, 1)
    done = _run_event(run, kind=status_event, status=status)
    storage.runs.finish(run_id, ("STARTED", status), time.time(), done)
    return run


def test_run_queries_read_the_run_indexes_newest_first(
    storage: Repositories, settings: Settings
) -> None:
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    _finished_run(storage, "r1", "load", "SUCCESS", sensor="watch")
    _finished_run(storage, "r2", "load", "FAILURE")
    _finished_run(storage, "r3", "report", "SUCCESS", sensor="watch")
    instance = _instance(storage, settings)

    assert [r.run_id for r in instance.get_runs()] == ["r3", "r2", "r1"]
    ok = dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE])
    assert [r.run_id for r in instance.get_runs(filters=ok, limit=2)] == ["r3", "r2"]
    load = dg.RunsFilter(job_name="load", statuses=[dg.DagsterRunStatus.SUCCESS])
    records = instance.get_run_records(filters=load)
    assert [r.dagster_run.run_id for r in records] == ["r1"]
    assert records[0].dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert records[0].create_timestamp >= start and records[0].end_time is not None
    watched = dg.RunsFilter(tags={"dagster/sensor_name": "watch"})
    assert [r.run_id for r in instance.get_runs(filters=watched)] == ["r3", "r1"]
    ascending = instance.get_run_records(filters=watched, ascending=True)
    assert [r.dagster_run.run_id for r in ascending] == ["r1", "r3"]
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=5)
    assert instance.get_runs(filters=dg.RunsFilter(created_after=later)) == []
    by_id = instance.get_runs(filters=dg.RunsFilter(run_ids=["r2", "nope"]))
    assert [r.run_id for r in by_id] == ["r2"]
    assert instance.get_run_by_id("r2").job_name == "load"


def test_a_runs_materializations_are_read_per_asset_with_cursors_and_filters(
    storage: Repositories, settings: Settings
) -> None:
    for n in range(1, 6):
        _finished_run(storage, f"r{n}", "load", "SUCCESS")
    instance = _instance(storage, settings)
    orders = dg.AssetKey("orders")

    newest = instance.fetch_materializations(orders, limit=2)
    assert [r.run_id for r in newest.records] == ["r5", "r4"] and newest.has_more
    page = instance.fetch_materializations(orders, limit=2, cursor=newest.cursor)
    assert [r.run_id for r in page.records] == ["r3", "r2"]
    first = instance.fetch_materializations(orders, limit=3, ascending=True)
    assert [r.run_id for r in first.records] == ["r1", "r2", "r3"]
    ids = [r.storage_id for r in first.records]
    assert ids == sorted(ids)
    after = dg.AssetRecordsFilter(orders, after_storage_id=ids[1])
    rest = instance.fetch_materializations(after, limit=10, ascending=True)
    assert [r.run_id for r in rest.records] == ["r3", "r4", "r5"] and not rest.has_more
    only = dg.AssetRecordsFilter(orders, asset_partitions=["day-r2"])
    assert [r.run_id for r in instance.fetch_materializations(only, limit=10).records] == ["r2"]
    picked = dg.AssetRecordsFilter(orders, storage_ids=[ids[0], ids[2]])
    assert [r.run_id for r in instance.fetch_materializations(picked, limit=10).records] == [
        "r3",
        "r1",
    ]
    assert instance.fetch_materializations(dg.AssetKey("refunds"), limit=10).records == []
    assert instance.get_materialized_partitions(orders) == {f"day-r{n}" for n in range(1, 6)}
    latest = instance.get_latest_materialization_event(orders)
    assert latest.asset_materialization.metadata["rows"].value == 2

    typed = dg.EventRecordsFilter(dg.DagsterEventType.ASSET_MATERIALIZATION, asset_key=orders)
    assert [r.run_id for r in instance.get_event_records(typed, limit=2)] == ["r5", "r4"]
    successes = instance.get_event_records(
        dg.EventRecordsFilter(dg.DagsterEventType.RUN_SUCCESS), limit=2
    )
    assert [r.run_id for r in successes] == ["r5", "r4"]
