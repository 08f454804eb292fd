"""``context.log`` lines on tick and run records, and tracebacks from the user's frame.

Ticks are committed by the workers' ``TickRunner`` and runs executed by the
workers' ``RunExecutor`` against a real Redis; the CLI is run as a real
process and the web UI's pages are called in-process on the same Redis.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient

import lookout as dg
from lookout import Settings
from lookout._author.definitions import Definitions
from lookout._base.wire import RUN_TASK, LaunchRequest, TickRecord
from lookout._core.storage import Repositories
from lookout._process.log_capture import TICK_MAX_LINES, LogCapture
from lookout._process.tick import TickRunner, tick_runner
from lookout._tools.location import load_definitions
from lookout._tools.monitor import create_app
from lookout._tools.operator import sync_definitions
from lookout.workers.app import make_celery
from lookout.workers.runs import RunExecutor, new_run, status_event
from tests.conftest import ROOT, Spawn, process_env, wait_for
from tests.locations.work_support import start_worker

LOCATION_FILE = Path(__file__).resolve().parent / "locations" / "logs_sensors.py"
LOCATION = ["-m", "tests.locations.logs_sensors"]


@pytest.fixture
def definitions(storage: Repositories) -> Definitions:
    defs = load_definitions(file=str(LOCATION_FILE))
    sync_definitions(defs, storage.sensors)
    return defs


@pytest.fixture
def runner(definitions: Definitions, storage: Repositories, settings: Settings) -> TickRunner:
    return tick_runner(definitions, storage, settings)


TOKEN = "a token for the log tests"


@pytest.fixture
def client(definitions: Definitions, storage: Repositories, settings: Settings) -> TestClient:
    with_token = Settings(
        redis_url=settings.redis_url, key_prefix=settings.key_prefix, admin_token=TOKEN
    )
    return TestClient(create_app(definitions, storage, with_token))


def lookout(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "lookout", *args],
        env=process_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def ticked(runner: TickRunner, name: str) -> TickRecord:
    record = runner.tick(name)
    assert record is not None
    return record


def run_launches(definitions: Definitions, storage: Repositories, settings: Settings) -> list[str]:
    """Create and execute the runs of every launch request, as launcher and worker do."""
    now = time.time()
    records = [new_run(launch, definitions, now) for _, launch in storage.launches.requests()]
    storage.runs.create([(r, status_event(r, r.status, now)) for r in records])
    executor = RunExecutor(definitions, storage.runs, settings)
    for record in records:
        executor.deliver(record.run_id)
    return [r.run_id for r in records]


def frames(traceback: str) -> list[str]:
    """The functions of a traceback's frames, in order, as ``file:function``."""
    return [
        f"{Path(m.group(1)).name}:{m.group(2)}"
        for m in re.finditer(r'File "([^"]+)", line \d+, in (\S+)', traceback)
    ]


def test_a_sensors_log_lines_are_on_its_tick_in_the_cli_and_the_ui(
    settings: Settings, client: TestClient, storage: Repositories
) -> None:
    out = lookout(settings, "sensor", "tick", "meter_reader", *LOCATION).stdout
    assert "polled the meter feed, batch 1" in out
    [tick] = storage.ticks.history("meter_reader", 1)
    assert len(tick.logs) == 1  # the debug line is below INFO, as in Dagster
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} INFO +polled the meter feed, batch 1", tick.logs[0])

    verbose = lookout(settings, "sensor", "ticks", "meter_reader", "-v", *LOCATION).stdout
    assert tick.logs[0] in verbose
    listed = json.loads(
        lookout(settings, "sensor", "ticks", "meter_reader", "--json", *LOCATION).stdout
    )
    assert listed[0]["logs"] == tick.logs

    page = client.get(f"/sensors/meter_reader/ticks/{tick.tick_id}")
    assert page.status_code == 200
    assert "polled the meter feed, batch 1" in page.text


def test_test_sensor_in_the_ui_shows_the_lines_it_logged_and_stores_none(
    client: TestClient, storage: Repositories
) -> None:
    reply = client.post(
        "/sensors/meter_reader/test", data={"cursor": '"41"'}, headers={"X-Lookout-Token": TOKEN}
    )
    assert reply.status_code == 200
    assert "polled the meter feed, batch 42" in reply.text
    assert storage.ticks.history("meter_reader", 10) == []


def test_a_tick_keeps_at_most_its_line_limit_and_says_how_many_it_cut(runner: TickRunner) -> None:
    tick = ticked(runner, "flood")
    assert len(tick.logs) == TICK_MAX_LINES + 1
    assert tick.logs[0].endswith("line 0 xxxxxxxxxx")
    assert tick.logs[TICK_MAX_LINES - 1].endswith(f"line {TICK_MAX_LINES - 1} xxxxxxxxxx")
    cut = 500 - TICK_MAX_LINES
    assert tick.logs[-1] == f"... {cut} more log lines not kept (at most {TICK_MAX_LINES})"


def test_a_failed_ticks_traceback_starts_at_the_users_frame_and_keeps_the_chain(
    runner: TickRunner, settings: Settings, client: TestClient
) -> None:
    tick = ticked(runner, "gauge_check")
    assert tick.status == "FAILURE"
    assert tick.error == "ValueError: gauge reading 'E42' is not a number"
    assert tick.traceback is not None
    # The chain as Python prints it: the KeyError, then the ValueError raised from it.
    cause, _, effect = tick.traceback.partition(
        "The above exception was the direct cause of the following exception:"
    )
    assert frames(cause) == ["logs_sensors.py:parse_reading"]
    assert cause.rstrip().endswith("KeyError: 'E42'")
    assert frames(effect) == ["logs_sensors.py:gauge_check", "logs_sensors.py:parse_reading"]
    assert effect.rstrip().endswith("ValueError: gauge reading 'E42' is not a number")
    assert tick.logs[0].endswith("INFO    checking gauge E42")

    verbose = lookout(settings, "sensor", "ticks", "gauge_check", "-v", *LOCATION).stdout
    assert "in gauge_check" in verbose and "checking gauge E42" in verbose
    assert "lookout/" not in verbose.split("Traceback", 1)[1]
    page = client.get(f"/sensors/gauge_check/ticks/{tick.tick_id}").text
    assert "checking gauge E42" in page
    assert "in gauge_check" in page and "_process" not in page


def test_a_runs_op_logs_and_events_are_in_runs_logs_runs_show_and_its_page(
    runner: TickRunner,
    definitions: Definitions,
    storage: Repositories,
    settings: Settings,
    client: TestClient,
) -> None:
    ticked(runner, "meter_reader")
    [run_id] = run_launches(definitions, storage, settings)
    run = storage.runs.get(run_id)
    assert run is not None and run.status == "SUCCESS"
    texts = [line.split(" ", 1)[1].strip() for line in run.logs]
    assert texts == [
        f"EVENT   RUN_START on {run.worker}",
        "INFO    read meter north",
        "INFO    read meter south",
        "WARNING meter east did not answer",
        "INFO    total of 2 meters",
        "EVENT   RUN_SUCCESS",
    ]
    # Listings leave the lines out: a page of runs does not carry every run's logs.
    assert [r.logs for r in storage.runs.get_many([run_id])] == [[]]

    logs = lookout(settings, "runs", "logs", run_id[:8]).stdout
    assert logs.splitlines() == run.logs
    shown = lookout(settings, "runs", "show", run_id[:8]).stdout
    assert "6 lines" in shown and "read meter south" in shown
    as_json = json.loads(lookout(settings, "runs", "logs", run_id, "--json").stdout)
    assert as_json == {"run_id": run_id, "status": "SUCCESS", "logs": run.logs}

    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert "read meter north" in page.text and "meter east did not answer" in page.text


def test_an_assets_materialization_is_an_event_line_of_its_runs_log(
    definitions: Definitions, storage: Repositories, settings: Settings, client: TestClient
) -> None:
    launch = LaunchRequest(
        request_id="assets-1",
        sensor="meter_reader",
        tick_id="t1",
        job_name="meter_assets",
        run_key=None,
        run_config={},
        tags={},
        partition_key=None,
        created_at=time.time(),
    )
    record = new_run(launch, definitions, time.time())
    storage.runs.create([(record, status_event(record, record.status, record.created_at))])
    RunExecutor(definitions, storage.runs, settings).deliver(record.run_id)
    run = storage.runs.get(record.run_id)
    assert run is not None and run.status == "SUCCESS"
    assert [line.split(" ", 1)[1].strip() for line in run.logs[1:]] == [
        "INFO    summing the meters",
        "EVENT   ASSET_MATERIALIZATION meter_total meters=3",
        "EVENT   RUN_SUCCESS",
    ]
    # The materialization's metadata, on the run page's events too.
    page = client.get(f"/runs/{record.run_id}")
    assert page.status_code == 200 and "meters=3" in page.text


def test_a_failed_runs_error_starts_at_the_users_frame_and_its_logs_say_why(
    runner: TickRunner, definitions: Definitions, storage: Repositories, settings: Settings
) -> None:
    ticked(runner, "faulty_meters")
    [run_id] = run_launches(definitions, storage, settings)
    run = storage.runs.get(run_id)
    assert run is not None and run.status == "FAILURE" and run.error is not None
    cause, _, effect = run.error.partition("The above exception was the direct cause")
    assert frames(cause) == ["logs_sensors.py:parse_reading"]
    assert frames(effect) == ["logs_sensors.py:crash", "logs_sensors.py:parse_reading"]
    assert run.logs[1].endswith("INFO    about to parse the east gauge")
    assert "EVENT   RUN_FAILURE: step 'crash' failed: ValueError(" in run.logs[-1]


def test_a_deleted_run_takes_its_logs_with_it(
    runner: TickRunner, definitions: Definitions, storage: Repositories, settings: Settings
) -> None:
    ticked(runner, "meter_reader")
    [run_id] = run_launches(definitions, storage, settings)
    assert storage.client.exists(storage.keys.run_logs(run_id))
    assert storage.runs.delete_finished(time.time() + 1, 10) == 1
    assert not storage.client.exists(storage.keys.run_logs(run_id))


def test_a_running_runs_log_lines_can_be_read_before_it_ends(
    spawn: Spawn,
    definitions: Definitions,
    storage: Repositories,
    settings: Settings,
    tmp_path: Path,
) -> None:
    start_worker(spawn, settings, "tests.locations.logs_sensors", env={"LOOKOUT_RUN_LEASE": "1.5"})
    gate = tmp_path / "gate"
    launch = LaunchRequest(
        request_id="gated-1",
        sensor="gate_keeper",
        tick_id="t1",
        job_name="gated_meters",
        run_key=None,
        run_config={"ops": {"wait_at_gate": {"config": {"gate": str(gate)}}}},
        tags={},
        partition_key=None,
        created_at=time.time(),
    )
    record = new_run(launch, definitions, time.time())
    storage.runs.create([(record, status_event(record, record.status, record.created_at))])
    app = make_celery(settings)
    try:
        app.send_task(RUN_TASK, args=[record.run_id], queue=settings.run_queue)

        def lines() -> list[str]:
            run = storage.runs.get(record.run_id)
            return run.logs if run is not None else []

        wait_for(
            lambda: any("waiting at the gate" in line for line in lines()),
            15,
            what="the running run's first log line",
        )
        running = storage.runs.get(record.run_id)
        assert running is not None and running.status == "STARTED"
        assert "through the gate" not in "\n".join(running.logs)
        out = lookout(settings, "runs", "logs", record.run_id[:8]).stdout
        assert "waiting at the gate" in out

        gate.touch()
        wait_for(lambda: lines()[-1:] != [] and "RUN_SUCCESS" in lines()[-1], 20, what="the end")
        assert [line.split(" ", 1)[1].strip() for line in lines()[1:]] == [
            "INFO    waiting at the gate",
            "INFO    through the gate",
            "EVENT   RUN_SUCCESS",
        ]
    finally:
        app.close()


def test_capturing_many_sensors_lines_sets_a_level_once_for_their_family_not_per_sensor() -> None:
    # Each setLevel clears every logger's cache: once per sensor made the
    # first ticks of N sensors cost N squared.  A family name of its own keeps
    # this test apart from the process's other loggers.
    family = f"lookout.sensor-family-{time.monotonic_ns()}"
    loggers = [logging.getLogger(f"{family}.s{i:03d}") for i in range(50)]
    captured = []
    for i, logger in enumerate(loggers):
        capture = LogCapture()
        with capture.on(logger):
            logger.info("tick of sensor %d", i)
        captured.append(capture.lines())
    assert all(
        len(lines) == 1 and lines[0].endswith(f"tick of sensor {i}")
        for i, lines in enumerate(captured)
    )
    assert logging.getLogger(family).level == logging.INFO
    assert {logger.level for logger in loggers} == {logging.NOTSET}


def test_a_sensor_logger_with_its_own_higher_level_still_has_its_info_lines_captured() -> None:
    logger = logging.getLogger(f"lookout.sensor-own-{time.monotonic_ns()}.quiet")
    logger.setLevel(logging.ERROR)
    capture = LogCapture()
    with capture.on(logger):
        logger.info("still kept")
    assert [line.split(" ", 1)[1] for line in capture.lines()] == ["INFO    still kept"]


def test_ticks_in_a_row_each_keep_only_their_own_sensors_lines(runner: TickRunner) -> None:
    # One runner evaluates them all, as a worker's pool process does a message.
    flooded = ticked(runner, "flood")
    meter = ticked(runner, "meter_reader")
    gauge = ticked(runner, "gauge_check")
    again = ticked(runner, "meter_reader")

    assert len(flooded.logs) == TICK_MAX_LINES + 1
    assert [line.split(None, 2)[2] for line in meter.logs] == ["polled the meter feed, batch 1"]
    assert gauge.status == "FAILURE"
    assert [line.split(None, 2)[2] for line in gauge.logs] == ["checking gauge E42"]
    assert [line.split(None, 2)[2] for line in again.logs] == ["polled the meter feed, batch 2"]


def test_an_evaluation_abandoned_at_its_timeout_puts_no_lines_on_the_next_tick(
    storage: Repositories, settings: Settings
) -> None:
    # Off the main thread an evaluation that times out is left running in its
    # thread, still logging: the next tick's lines must be its own only.
    stop = threading.Event()

    @dg.sensor(minimum_interval_seconds=1)
    def chatterbox(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        while not stop.wait(0.01):
            context.log.info("still talking")
        return dg.SkipReason("done")

    @dg.sensor(minimum_interval_seconds=1)
    def quiet(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        time.sleep(0.3)
        context.log.info("one line of my own")
        return dg.SkipReason("nothing new")

    defs = dg.Definitions(sensors=[chatterbox, quiet])
    sync_definitions(defs, storage.sensors)
    runner = tick_runner(defs, storage, replace(settings, tick_timeout=0.5))
    records: list[TickRecord | None] = []

    def tick_both() -> None:
        records.append(runner.tick("chatterbox"))
        records.append(runner.tick("quiet"))

    thread = threading.Thread(target=tick_both)
    thread.start()
    thread.join(10)
    stop.set()
    talked, heard = records
    assert talked is not None and talked.status == "FAILURE"
    assert heard is not None and heard.status == "SKIPPED"
    assert [line.split(None, 2)[2] for line in heard.logs] == ["one line of my own"]
