"""Dagster's sensor documentation examples, ticked by lookout against a real Redis.

The code location (``tests/locations/docs_sensor_basics.py``) writes sensors
as the documentation does, with ``import lookout as dg``; each test asserts
the behaviour the documentation promises for that pattern.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from lookout import Definitions, Settings
from lookout.testing import Repositories, TickRunner, decode_value, load_definitions, tick_runner
from tests.docs_support import launched, tick

LOCATION = Path(__file__).parent / "locations" / "docs_sensor_basics.py"


@pytest.fixture
def defs(inbox: Path) -> Definitions:
    return load_definitions(file=str(LOCATION))


@pytest.fixture
def runner(defs: Definitions, storage: Repositories, settings: Settings) -> TickRunner:
    return tick_runner(defs, storage, settings)


def stored_cursor(runner: TickRunner, name: str) -> object:
    raw = runner.sensors.state(name).cursor
    return None if raw is None else decode_value(raw)


def test_op_job_reads_the_file_name_from_op_config(defs: Definitions) -> None:
    ingest_job = defs.get_job("ingest_job")
    result = ingest_job.execute_in_process(
        run_config={"ops": {"ingest_file": {"config": {"path": "a.csv"}}}}
    )
    assert result.success and result.output_for_node("ingest_file") == "a.csv"
    unconfigured = ingest_job.execute_in_process(raise_on_error=False)
    assert not unconfigured.success
    assert "ops.ingest_file.config: missing required key 'path'" in (unconfigured.error or "")


def test_directory_sensor_without_context_launches_each_file_once(
    runner: TickRunner, inbox: Path
) -> None:
    (inbox / "b.csv").write_text("b")
    (inbox / "a.csv").write_text("a")
    (inbox / "sub").mkdir()  # not a file: no run
    first = tick(runner, "inbox_sensor")
    assert first.status == "SUCCESS" and len(first.run_request_ids) == 2
    again = tick(runner, "inbox_sensor")
    assert again.run_request_ids == [] and again.dropped_run_keys == ["a.csv", "b.csv"]
    assert runner.ticks.history("inbox_sensor")[0].status == "SKIPPED"
    runs = launched(runner)
    assert [(r.job_name, r.run_key) for r in runs] == [
        ("ingest_job", "a.csv"),
        ("ingest_job", "b.csv"),
    ]
    assert runs[0].run_config == {"ops": {"ingest_file": {"config": {"path": "a.csv"}}}}
    assert runs[0].tags == {"dagster/sensor_name": "inbox_sensor", "dagster/run_key": "a.csv"}


def test_sensor_yields_a_skip_reason_when_the_directory_is_empty(
    runner: TickRunner, inbox: Path
) -> None:
    record = tick(runner, "inbox_sensor_with_skips")
    assert record.status == "SKIPPED"
    assert record.skip_reason == f"Nothing waiting in {inbox}."
    (inbox / "c.csv").write_text("c")
    assert tick(runner, "inbox_sensor_with_skips").status == "SUCCESS"


def test_mtime_cursor_sensor_runs_new_and_changed_files_only(
    runner: TickRunner, inbox: Path
) -> None:
    (inbox / "a.csv").write_text("a")
    assert len(tick(runner, "inbox_cursor_sensor").run_request_ids) == 1
    assert tick(runner, "inbox_cursor_sensor").status == "SKIPPED"
    later = time.time() + 5
    os.utime(inbox / "a.csv", (later, later))  # the file changed: a new run key
    changed = tick(runner, "inbox_cursor_sensor")
    assert len(changed.run_request_ids) == 1
    assert stored_cursor(runner, "inbox_cursor_sensor") == str(later)
    keys = [r.run_key or "" for r in launched(runner)]
    assert len(keys) == 2 and all(k.startswith("a.csv:") for k in keys)


def test_sensor_returning_a_list_moves_its_cursor_to_the_last_key(
    runner: TickRunner, inbox: Path
) -> None:
    for name in ("k1", "k2"):
        (inbox / name).write_text(name)
    assert len(tick(runner, "bucket_sensor").run_request_ids) == 2
    assert stored_cursor(runner, "bucket_sensor") == "k2"
    (inbox / "k3").write_text("k3")
    assert len(tick(runner, "bucket_sensor").run_request_ids) == 1
    idle = tick(runner, "bucket_sensor")
    assert idle.status == "SKIPPED" and idle.skip_reason == "No new keys after k3."
    assert [r.run_key for r in launched(runner)] == ["k1", "k2", "k3"]


def test_sensor_result_carries_run_requests_and_the_cursor(runner: TickRunner, inbox: Path) -> None:
    (inbox / "one").write_text("1")
    (inbox / "two").write_text("2")
    assert len(tick(runner, "batch_sensor").run_request_ids) == 2
    assert stored_cursor(runner, "batch_sensor") == "2"
    assert tick(runner, "batch_sensor").status == "SKIPPED"
    assert stored_cursor(runner, "batch_sensor") == "2"


def test_empty_sensor_result_of_a_scaffolded_sensor_skips(runner: TickRunner) -> None:
    record = tick(runner, "scaffolded_sensor")
    assert record.status == "SKIPPED" and record.requests == []


def test_sensors_at_different_intervals_are_due_again_after_their_interval(
    runner: TickRunner, defs: Definitions
) -> None:
    for name, interval in (("every_thirty_seconds", 30), ("every_forty_five_seconds", 45)):
        sensor = defs.get_sensor(name)
        assert sensor.minimum_interval_seconds == interval
        commit = runner.evaluate(
            sensor, runner.sensors.state(name), tick_id=f"t-{name}", due_at=None
        )
        assert commit.next_due == pytest.approx(commit.record.started_at + interval)
        # run_key=None: every evaluation launches a run
        assert tick(runner, name).status == "SUCCESS"
        assert tick(runner, name).status == "SUCCESS"
    assert len(launched(runner)) == 4


def test_default_status_running_and_a_sensor_returning_nothing(
    runner: TickRunner, defs: Definitions
) -> None:
    import lookout as dg

    assert defs.get_sensor("always_on_sensor").default_status is dg.DefaultSensorStatus.RUNNING
    assert defs.get_sensor("inbox_sensor").default_status is dg.DefaultSensorStatus.STOPPED
    record = tick(runner, "always_on_sensor")
    assert record.status == "SKIPPED" and record.requests == []


def test_sensor_logs_through_its_context(
    runner: TickRunner, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="lookout.sensor"):
        record = tick(runner, "chatty_sensor")
    assert record.status == "SKIPPED" and record.skip_reason == "Nothing to do today"
    assert "Checking in from a sensor" in caplog.messages


def test_asset_jobs_select_every_asset_or_named_keys(runner: TickRunner, defs: Definitions) -> None:
    everything = defs.get_job("everything_job")
    assert [s.name for s in everything.steps] == ["raw_orders", "order_summary"]
    assert [s.name for s in defs.get_job("summary_job").steps] == ["order_summary"]
    result = everything.execute_in_process()
    assert [list(m.asset_key.path) for m in result.get_asset_materialization_events()] == [
        ["raw_orders"],
        ["order_summary"],
    ]
    assert tick(runner, "orders_sensor").status == "SUCCESS"
    assert tick(runner, "by_job_name_sensor").status == "SUCCESS"
    assert [(r.job_name, r.run_key) for r in launched(runner)] == [
        ("everything_job", "orders-1"),
        ("summary_job", None),
    ]


def test_sensor_with_several_jobs_names_the_job_of_each_request(runner: TickRunner) -> None:
    assert len(tick(runner, "fan_out_sensor").run_request_ids) == 2
    runs = launched(runner)
    assert [(r.job_name, r.run_key) for r in runs] == [
        ("ingest_job", "to-ingest"),
        ("noop_job", "to-noop"),
    ]
    assert runs[1].tags["origin"] == "fan_out"


def test_name_description_and_tags_of_a_sensor(defs: Definitions) -> None:
    sensor = defs.get_sensor("renamed_sensor")
    assert sensor.description == "Watches nothing in particular"
    assert sensor.tags == {"team": "ingest"}
    assert sensor.job_names == ("noop_job",)
    assert sensor() is None  # still the plain function underneath
