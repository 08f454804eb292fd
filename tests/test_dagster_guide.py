"""Dagster's sensor guide, with ``import dagster as dg`` replaced by ``import lookout as dg``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lookout import Settings
from lookout.testing import (
    EventKind,
    Repositories,
    RunEvent,
    TickRunner,
    launch_requests,
    load_definitions,
    tick_runner,
)


@pytest.fixture
def runner(
    storage: Repositories, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> TickRunner:
    monkeypatch.setenv("GUIDE_DIR", str(tmp_path))
    defs = load_definitions(file=str(Path(__file__).parent / "locations" / "guide_sensors.py"))
    return tick_runner(defs, storage, settings)


def test_basic_sensor_asks_for_runs_or_skips_and_never_repeats_a_run_key(
    runner: TickRunner,
) -> None:
    statuses = set()
    for _ in range(30):
        record = runner.tick("new_file_sensor")
        assert record is not None
        statuses.add(record.status)
        if record.status == "SKIPPED" and not record.requests:
            assert record.skip_reason == "No new files found"
    assert statuses == {"SUCCESS", "SKIPPED"}
    launched = sorted(r.run_key or "" for r in launch_requests(runner))
    assert launched == ["file1", "file2"]


def test_cursor_sensor_launches_each_new_file_once(runner: TickRunner, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a")
    first = runner.tick("updated_file_sensor")
    assert first is not None and len(first.run_request_ids) == 1
    second = runner.tick("updated_file_sensor")
    assert second is not None and second.status == "SKIPPED"
    time.sleep(0.01)
    (tmp_path / "b.csv").write_text("b")
    third = runner.tick("updated_file_sensor")
    assert third is not None and len(third.run_request_ids) == 1
    configs = [r.run_config for r in launch_requests(runner)]
    assert configs == [
        {"ops": {"my_asset": {"config": {"filename": "a.csv"}}}},
        {"ops": {"my_asset": {"config": {"filename": "b.csv"}}}},
    ]


def test_asset_sensor_reads_the_upstream_partition_from_event_tags(runner: TickRunner) -> None:
    first = runner.tick("my_asset_sensor")
    assert first is not None and first.status == "SKIPPED"
    runner.events.append(
        RunEvent(
            kind=EventKind.ASSET_MATERIALIZATION.value,
            run_id="r1",
            job_name="my_job",
            timestamp=time.time(),
            asset_key="my_asset",
            partition="2024-03-01",
            tags={"dagster/partition": "2024-03-01"},
        )
    )
    record = runner.tick("my_asset_sensor")
    # The guide's asset sensor names no job, so, as in Dagster, its request is
    # refused with a clear error rather than launched somewhere arbitrary.
    assert record is not None and record.status == "FAILURE"
    assert "my_asset_sensor" in (record.error or "") and "targets no job" in (record.error or "")


def test_guide_assets_materialize_in_process() -> None:
    import lookout as dg
    from tests.locations import guide_sensors

    assert dg.materialize([guide_sensors.my_asset]).success
