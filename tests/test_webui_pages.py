"""The web UI's pages and changes, called in-process against a real Redis.

Ticks are committed by the workers' ``TickRunner``, runs created and executed
by the workers' own launch and run code, so every page shows records written
the way a deployment writes them.  Each change is checked in Redis: what the
page says it did, it did; what it refused or only tested, it left alone.
"""

from __future__ import annotations

import re
import signal
import time
import urllib.request
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from lookout import Settings
from lookout._author.definitions import Definitions
from lookout._base.codec import decode_value
from lookout._base.wire import DeadLetter, DefaultSensorStatus, RunRecord, TickRecord
from lookout._core.storage import Repositories
from lookout._process.tick import TickRunner, tick_runner
from lookout._tools.location import load_definitions
from lookout._tools.monitor import create_app, timeline
from lookout._tools.monitor.state import MonitorState
from lookout._tools.operator import set_sensor_status, sync_definitions
from lookout._tools.redis_server import free_port
from lookout.workers.runs import RunExecutor, new_run, status_event
from tests.conftest import Spawn, process_env, wait_for

LOCATION = Path(__file__).resolve().parent / "locations" / "webui_sensors.py"
TOKEN = "a token for tests"
AUTH = {"X-Lookout-Token": TOKEN}


@pytest.fixture
def definitions(storage: Repositories) -> Definitions:
    defs = load_definitions(file=str(LOCATION))
    sync_definitions(defs, storage.sensors)
    return defs


@pytest.fixture
def client(definitions: Definitions, storage: Repositories, settings: Settings) -> TestClient:
    with_token = Settings(
        redis_url=settings.redis_url, key_prefix=settings.key_prefix, admin_token=TOKEN
    )
    return TestClient(create_app(definitions, storage, with_token), follow_redirects=False)


@pytest.fixture
def runner(definitions: Definitions, storage: Repositories, settings: Settings) -> TickRunner:
    return tick_runner(definitions, storage, settings)


def launch_and_run(
    definitions: Definitions, storage: Repositories, settings: Settings
) -> list[str]:
    """Create and execute the runs of every launch request, as launcher and worker do."""
    now = time.time()
    records = [new_run(launch, definitions, now) for _, launch in storage.launches.requests()]
    storage.runs.create([(r, status_event(r, r.status, now)) for r in records])
    executor = RunExecutor(definitions, storage.runs, settings)
    for record in records:
        executor.deliver(record.run_id)
    return [r.run_id for r in records]


def ticked(runner: TickRunner, name: str) -> TickRecord:
    record = runner.tick(name)
    assert record is not None
    return record


def toggles(html: str) -> dict[str, list[str]]:
    """Each sensor's buttons on the list, as the labels a person reads."""
    found: dict[str, list[str]] = {}
    pattern = r'data-sensor="([^"]+)" data-action="(\w+)">(\w+)</button>'
    for name, _action, label in re.findall(pattern, html):
        found.setdefault(name, []).append(label)
    return found


def test_the_list_offers_stop_for_a_running_sensor_and_start_for_a_stopped_one(
    client: TestClient, definitions: Definitions, storage: Repositories
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert toggles(page.text) == {
        "orders": ["Stop"],
        "inbox": ["Stop"],
        "bucket_watch": ["Stop"],
        "failed_orders": ["Start"],
    }
    set_sensor_status(definitions, storage.sensors, "orders", DefaultSensorStatus.STOPPED)
    assert toggles(client.get("/").text)["orders"] == ["Start"]
    assert 'name="viewport"' in page.text  # laid out for a phone's width too
    # No other site may frame the page and have the operator click on it.
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_a_malformed_cursor_is_refused_with_the_reason_and_changes_nothing(
    client: TestClient, runner: TickRunner, storage: Repositories
) -> None:
    ticked(runner, "orders")
    before = storage.sensors.state("orders").cursor
    for typed, reason in [
        ('{"batch": ', "not valid JSON"),
        ("batch 3", "not valid JSON"),
        ("   ", "cursor is empty"),
    ]:
        reply = client.post("/sensors/orders/cursor", data={"cursor": typed}, headers=AUTH)
        assert reply.status_code == 400, typed
        assert reason in reply.text and "Nothing was changed" in reply.text
        assert storage.sensors.state("orders").cursor == before

    reply = client.post("/sensors/orders/cursor", data={"cursor": '{"batch": 7}'}, headers=AUTH)
    assert reply.status_code == 303
    stored = storage.sensors.state("orders").cursor
    assert stored is not None and decode_value(stored) == {"batch": 7}
    reply = client.post("/sensors/orders/cursor", data={"cursor": "null"}, headers=AUTH)
    assert reply.status_code == 303 and storage.sensors.state("orders").cursor is None


def test_cursor_edits_and_tests_need_the_token(
    client: TestClient, runner: TickRunner, storage: Repositories
) -> None:
    ticked(runner, "orders")
    before = storage.sensors.state("orders")
    for path in ("/sensors/orders/cursor", "/sensors/orders/test"):
        for headers in ({}, {"X-Lookout-Token": "wrong"}, {"Authorization": "Bearer wrong"}):
            reply = client.post(path, data={"cursor": '"99"'}, headers=headers)
            assert reply.status_code == 401, (path, headers)
            assert reply.headers["www-authenticate"].startswith("Bearer")
    assert storage.sensors.state("orders") == before
    assert (
        client.post("/sensors/nope/cursor", data={"cursor": "1"}, headers=AUTH).status_code == 404
    )
    assert not storage.client.exists(storage.keys.sensor("nope"))


def test_test_sensor_evaluates_with_the_given_cursor_and_stores_nothing(
    client: TestClient, runner: TickRunner, storage: Repositories
) -> None:
    for _ in range(3):
        ticked(runner, "orders")  # batches 1 to 3; the cursor is "3"
    state = storage.sensors.state("orders")
    history = storage.ticks.history("orders", 100)
    launches = storage.launches.requests()
    run_keys = storage.client.hgetall(storage.keys.run_keys("orders"))

    reply = client.post("/sensors/orders/test", data={"cursor": '"1"'}, headers=AUTH)
    assert reply.status_code == 200
    assert "batch-2" in reply.text and "dropped: run key used" in reply.text
    reply = client.post("/sensors/orders/test", data={"cursor": '"10"'}, headers=AUTH)
    assert "batch-11" in reply.text and "launch a run" in reply.text
    assert "&#34;batch&#34;: 11" in reply.text  # its run config, escaped
    # Empty: the stored cursor.
    reply = client.post("/sensors/orders/test", data={"cursor": ""}, headers=AUTH)
    assert "batch-4" in reply.text
    # A failing sensor shows its error and traceback, still storing nothing.
    reply = client.post("/sensors/bucket_watch/test", data={"cursor": ""}, headers=AUTH)
    assert "FAILURE" in reply.text and 'id="test-traceback"' in reply.text
    assert "in list_bucket" in reply.text
    reply = client.post("/sensors/orders/test", data={"cursor": "{oops"}, headers=AUTH)
    assert reply.status_code == 400 and "not valid JSON" in reply.text

    assert storage.sensors.state("orders") == state
    assert storage.ticks.history("orders", 100) == history
    assert storage.launches.requests() == launches
    assert storage.client.hgetall(storage.keys.run_keys("orders")) == run_keys
    assert storage.ticks.history("bucket_watch", 10) == []


def test_a_failure_tick_shows_its_traceback_and_a_request_links_to_its_run(
    client: TestClient,
    runner: TickRunner,
    definitions: Definitions,
    storage: Repositories,
    settings: Settings,
) -> None:
    failure = ticked(runner, "bucket_watch")
    page = client.get(f"/sensors/bucket_watch/ticks/{failure.tick_id}")
    assert page.status_code == 200
    assert "RuntimeError: the bucket &#39;landing&#39; is gone" in page.text
    traceback = re.search(r'<pre id="traceback">(.*?)</pre>', page.text, re.S)
    assert traceback is not None and "in list_bucket" in traceback.group(1)

    success = ticked(runner, "orders")
    waiting = client.get(f"/sensors/orders/ticks/{success.tick_id}")
    assert "waiting for the launcher" in waiting.text
    (run_id,) = launch_and_run(definitions, storage, settings)
    page = client.get(f"/sensors/orders/ticks/{success.tick_id}")
    assert f'href="/runs/{run_id}"' in page.text and "batch-1" in page.text
    assert client.get("/sensors/orders/ticks/nope").status_code == 404
    assert client.get("/sensors/nope/ticks/nope").status_code == 404


def test_a_run_page_shows_status_timing_config_tags_error_and_events(
    client: TestClient,
    runner: TickRunner,
    definitions: Definitions,
    storage: Repositories,
    settings: Settings,
) -> None:
    for _ in range(3):
        ticked(runner, "orders")
    launch_and_run(definitions, storage, settings)
    (failed,) = storage.runs.recent(status="FAILURE")
    assert failed.run_key == "batch-3"
    page = client.get(f"/runs/{failed.run_id}")
    assert page.status_code == 200
    error = re.search(r'<pre id="run-error">(.*?)</pre>', page.text, re.S)
    assert error is not None
    assert "Traceback" in error.group(1) and "batch 3: 2 rows have no order id" in error.group(1)
    config = re.search(r'<pre class="light" id="run-config">(.*?)</pre>', page.text, re.S)
    assert config is not None and "&#34;batch&#34;: 3" in config.group(1)
    for text in ("dagster/sensor_name", "orders-api", "load_orders", "Took", "Worker"):
        assert text in page.text
    events = re.search(r'<table class="cards" id="events">(.*?)</table>', page.text, re.S)
    assert events is not None
    assert [s for s in ("QUEUED", "STARTED", "FAILURE") if s in events.group(1)] == [
        "QUEUED",
        "STARTED",
        "FAILURE",
    ]
    assert client.get("/runs/no-such-run").status_code == 404
    runs = client.get("/runs?status=FAILURE").text
    assert failed.run_id[:8] in runs and "batch-1" not in runs


def test_values_from_redis_are_escaped(
    client: TestClient, storage: Repositories, definitions: Definitions
) -> None:
    now = time.time()
    record = RunRecord(
        run_id="r-escape",
        job_name="<b>job</b>",
        status="FAILURE",
        created_at=now,
        tags={"note": "<script>alert(1)</script>"},
        error="<img src=x onerror=alert(1)>",
    )
    storage.runs.create([(record, status_event(record, "FAILURE", now))])
    page = client.get("/runs/r-escape").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page and "<b>job</b>" not in page


def test_an_event_sensor_shows_how_many_events_and_seconds_it_is_behind(
    client: TestClient,
    runner: TickRunner,
    definitions: Definitions,
    storage: Repositories,
    settings: Settings,
) -> None:
    state = MonitorState(definitions, storage, settings)
    assert state.event_lag(state.sensor("orders")) is None  # not an event sensor
    ticked(runner, "failed_orders")  # its cursor: the newest event (none yet)
    page = client.get("/sensors/failed_orders")
    assert 'id="lag-events">0<' in page.text

    for _ in range(3):
        ticked(runner, "orders")
    launch_and_run(definitions, storage, settings)  # 3 runs: QUEUED, STARTED, end: 9 events
    lag = state.event_lag(state.sensor("failed_orders"), now=time.time() + 5)
    assert lag is not None and lag.events == 9 and not lag.at_least
    assert 5.0 <= lag.seconds < 15.0
    assert 'id="lag-events">9<' in client.get("/sensors/failed_orders").text

    ticked(runner, "failed_orders")  # sees them all
    lag = state.event_lag(state.sensor("failed_orders"))
    assert lag is not None and lag.events == 0 and lag.seconds == 0.0


def test_the_timeline_draws_each_tick_by_status_and_links_it(
    client: TestClient, runner: TickRunner
) -> None:
    ticks = [ticked(runner, "orders"), ticked(runner, "bucket_watch")]
    page = client.get("/sensors/bucket_watch").text
    marks = re.findall(r'class="tick-mark" data-status="(\w+)"', page)
    assert marks == ["FAILURE"]
    assert f'href="/sensors/bucket_watch/ticks/{ticks[1].tick_id}"' in page

    drawn = timeline.build(
        [
            TickRecord("a", "s", "SUCCESS", 100.0, 100.5, due_at=99.0),
            TickRecord("b", "s", "FAILURE", 110.0, 110.1, due_at=110.0),
            TickRecord("c", "s", "STARTED", 120.0),
        ],
        now=121.0,
    )
    assert drawn is not None
    a, b, c = drawn.marks
    assert a.x < b.x < c.x  # by time
    assert a.bar_height > b.bar_height  # took 0.5 s against 0.1 s
    assert c.bar_height == timeline.LANE  # running for 1 s: the longest, at the top
    assert a.late_height == timeline.LATE_LANE and b.late_height == 0.0
    assert drawn.duration_max == 1.0 and drawn.lateness_max == 1.0
    assert timeline.build([], now=0.0) is None


def test_the_deployment_page_shows_processes_with_the_leader_queues_and_dead_letters(
    client: TestClient, storage: Repositories
) -> None:
    storage.dead_letters.add(
        DeadLetter("queue:ticks", "not msgpack: bad header", b"\x00garbage", 1.0)
    )
    page = client.get("/deployment").text
    assert "queue:ticks" in page and "not msgpack: bad header" in page
    for queue in ("ticks", "runs", "launch", "deadletter"):
        assert f'data-label="Queue">{queue}<' in page
    assert "no leader" in page  # no scheduler runs here


def test_reset_cursor_from_the_sensor_page_clears_it_and_comes_back(
    client: TestClient, runner: TickRunner, storage: Repositories
) -> None:
    ticked(runner, "orders")
    page = client.get("/sensors/orders").text
    assert 'action="/sensors/orders/reset-cursor"' in page
    reply = client.post(
        "/sensors/orders/reset-cursor", data={"back": "/sensors/orders"}, headers=AUTH
    )
    assert reply.status_code == 303 and reply.headers["location"] == "/sensors/orders"
    assert storage.sensors.state("orders").cursor is None


def test_the_monitor_stops_on_sigterm_at_once_and_takes_its_heartbeat_with_it(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    port = free_port()
    env = process_env(settings, LOOKOUT_MONITOR_PORT=str(port))
    proc = spawn(["lookout", "monitor", "-f", str(LOCATION)], env, log_name="monitor")

    def answers() -> bool:
        assert proc.poll() is None, proc.log_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
                return bool(page.status == 200)
        except OSError:
            return False

    wait_for(answers, 20, 0.1, "the monitor to answer")
    (monitor,) = [p for p in storage.processes.heartbeats() if p.role == "monitor"]
    assert monitor.details["url"] == f"http://127.0.0.1:{port}"
    assert f"lookout monitor on http://127.0.0.1:{port}" in proc.log_text()
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0, proc.log_text()
    assert time.monotonic() - started < 2.0
    assert not any(p.role == "monitor" for p in storage.processes.heartbeats())


def test_the_list_pages_and_finds_sensors_by_name_with_counts_over_all(
    client: TestClient,
    definitions: Definitions,
    storage: Repositories,
    settings: Settings,
    runner: TickRunner,
) -> None:
    ticked(runner, "bucket_watch")
    state = MonitorState(definitions, storage, settings)
    first, second = state.sensors(page=1, per_page=3), state.sensors(page=2, per_page=3)
    assert [v.name for v in first.sensors] == ["orders", "inbox", "bucket_watch"]
    assert [v.name for v in second.sensors] == ["failed_orders"]
    assert (first.total, first.running, first.pages) == (4, 3, 2)
    assert state.sensors(page=9, per_page=3).page == 2  # past the end: the last page
    assert first.sensors[2].last_tick is not None and first.sensors[2].next_due is not None

    found = client.get("/?q=ORDERS")
    assert found.status_code == 200
    assert set(toggles(found.text)) == {"orders", "failed_orders"}
    assert "2 of 4 match" in found.text
    assert "No sensor's name has &ldquo;nothing-like-it" in client.get("/?q=nothing-like-it").text
    assert client.get("/?page=oops").status_code == 200
