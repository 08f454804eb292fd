"""The web UI in headless Chromium, clicked through by chromedriver, against a live deployment.

A real scheduler, worker, launcher and monitor run on the test's Redis with
the code location ``tests/locations/webui_sensors.py``.  The browser clicks
as a person would: the one toggle each sensor offers, with and without the
operator's token; a FAILURE bar of the tick timeline to its traceback and logs; a
failed run's page; Test sensor; a cursor edit, malformed and then right.
Each check reads Redis afterwards: what the page says happened did, and
what it says was refused changed nothing.

Screenshots go to the test's tmp dir.  ``make screenshots`` (which sets
``LOOKOUT_SCREENSHOTS_DIR``) also writes them where the README shows them;
a plain test run never touches the work tree.

Needs Debian's ``chromium`` and ``chromium-driver`` packages; skipped without them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lookout import Settings
from lookout._base.codec import decode_value
from lookout._base.wire import DefaultSensorStatus
from lookout._core.storage import Repositories
from lookout._process.tick import tick_runner
from lookout._tools.location import load_definitions
from lookout._tools.operator import set_sensor_status, sync_definitions
from tests.conftest import Spawn, process_env, wait_for
from tests.test_status_page_auth import TOKEN, start_monitor

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

LOCATION = Path(__file__).resolve().parent / "locations" / "webui_sensors.py"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WIDE, NARROW = 1280, 400

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)",
)


class Shots:
    """Full-page screenshots into the tmp dir, and into ``LOOKOUT_SCREENSHOTS_DIR`` if set."""

    def __init__(self, driver: Any, tmp_path: Path) -> None:
        self.driver = driver
        self.dirs = [tmp_path / "screenshots"]
        if os.environ.get("LOOKOUT_SCREENSHOTS_DIR"):
            self.dirs.append(Path(os.environ["LOOKOUT_SCREENSHOTS_DIR"]))
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)

    def take(self, name: str, width: int = WIDE) -> Path:
        self.driver.set_window_size(width, 900)
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(width, min(int(height) + 10, 2400))
        paths = [d / f"{name}.png" for d in self.dirs]
        for path in paths:
            self.driver.save_screenshot(str(path))
            assert path.stat().st_size > 10_000
        self.driver.set_window_size(WIDE, 1000)
        return paths[0]

    def page_width(self, width: int) -> int:
        """How wide the page lays itself out in a window ``width`` px wide (no sideways scroll)."""
        self.driver.set_window_size(width, 900)
        return int(self.driver.execute_script("return document.documentElement.scrollWidth"))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--window-size={WIDE},1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(10)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shots(browser: Any, tmp_path: Path) -> Shots:
    return Shots(browser, tmp_path)


@pytest.fixture
def deployment(spawn: Spawn, settings: Settings, storage: Repositories) -> str:
    """A scheduler, a worker and a launcher at work, and a monitor with a token."""
    # Ticked once before any run, so the failures that follow are its lag.
    definitions = load_definitions(file=str(LOCATION))
    sync_definitions(definitions, storage.sensors)
    tick_runner(definitions, storage, settings).tick("failed_orders")
    env = process_env(settings, LOOKOUT_FILE=str(LOCATION), LOOKOUT_MODULE="")
    spawn(["lookout", "scheduler"], env, log_name="scheduler")
    spawn(["lookout", "worker", "--concurrency", "1"], env, log_name="worker")
    spawn(["lookout", "launcher"], env, log_name="launcher")
    base = start_monitor(spawn, settings, TOKEN, LOCATION)
    wait_for(
        lambda: (
            len(storage.runs.recent(sensor="orders", status="FAILURE")) >= 1
            and len(storage.runs.recent(sensor="orders", status="SUCCESS")) >= 3
            and any(t.status == "FAILURE" for t in storage.ticks.history("bucket_watch", 5))
            and {p.role for p in storage.processes.heartbeats()}
            >= {"scheduler", "worker", "launcher", "monitor"}
        ),
        90,
        0.2,
        "runs to succeed and fail, and every process to heartbeat",
    )
    return base


def by_css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def text_of(driver: Any, selector: str) -> str:
    """The element's text now, or "" while the page is replacing it.

    The page swaps a result element for a new one after each request, so an
    element found a moment ago can be gone when its text is read: a poll reads
    again rather than failing on the swap.  Chromium reports some swaps not
    as a stale element but as an inspector error about a node no longer in
    the document: the same swap, read again too.
    """
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )

    try:
        return str(by_css(driver, selector).text)
    except (NoSuchElementException, StaleElementReferenceException):
        return ""
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc.msg):
            return ""
        raise


def all_css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def timeline_marks(driver: Any, url: str) -> int:
    """The tick marks on the timeline of the sensor page at ``url``, loaded afresh."""
    driver.get(url)
    return len(all_css(driver, "#timeline a.tick-mark"))


def type_token(driver: Any, token: str) -> None:
    box = by_css(driver, "#token")
    box.clear()
    box.send_keys(token)


def replace_text(element: Any, text: str) -> None:
    element.clear()
    element.send_keys(text)


def sensor_row(driver: Any, name: str) -> Any:
    return by_css(driver, f'#sensors tr[data-sensor="{name}"]')


def test_each_sensor_offers_one_toggle_and_every_click_needs_the_token(
    browser: Any, deployment: str, storage: Repositories, shots: Shots
) -> None:
    browser.get(deployment + "/")
    assert browser.title == "lookout"
    names = [r.get_attribute("data-sensor") for r in all_css(browser, "#sensors tbody tr")]
    assert names == ["orders", "inbox", "bucket_watch", "failed_orders"]
    # One action per sensor, the one that makes sense: Stop a running one, Start a stopped one.
    for name, label in [("orders", "Stop"), ("bucket_watch", "Stop"), ("failed_orders", "Start")]:
        buttons = sensor_row(browser, name).find_elements("css selector", "button")
        assert [b.text for b in buttons] == [label], name
    assert "RuntimeError: the bucket 'landing' is gone" in sensor_row(browser, "bucket_watch").text
    assert "leader" in by_css(browser, "#summary").text.lower()
    shots.take("sensors")
    # Readable at 400 px: the page fits, nothing scrolls sideways.
    assert shots.page_width(NARROW) <= NARROW
    shots.take("sensors-narrow", NARROW)

    # No token typed: the click is refused and nothing changes in Redis.
    by_css(browser, '#sensors button[data-sensor="orders"]').click()
    wait_for(lambda: browser.title == "Unauthorized", 10, what="the 401 page")
    assert "operator token" in by_css(browser, "#message").text
    assert storage.sensors.state("orders").status is None  # still the code's default

    # A wrong token: refused the same way.
    browser.get(deployment + "/")
    type_token(browser, "not the token")
    by_css(browser, '#sensors button[data-sensor="orders"]').click()
    wait_for(lambda: browser.title == "Unauthorized", 10, what="the 401 page")
    assert storage.sensors.state("orders").status is None

    # The operator's token: Stop, and the row now offers Start.
    browser.get(deployment + "/")
    type_token(browser, TOKEN)
    by_css(browser, '#sensors button[data-sensor="orders"]').click()
    wait_for(lambda: storage.sensors.state("orders").status == "STOPPED", 10, what="STOPPED")
    assert storage.client.zscore(storage.keys.due, "orders") is None
    wait_for(lambda: browser.current_url == deployment + "/", 10, what="the list to come back")
    row = sensor_row(browser, "orders")
    assert "STOPPED" in row.text
    assert [b.text for b in row.find_elements("css selector", "button")] == ["Start"]
    # The token stays in the tab: Start needs no typing again, and the sensor ticks again.
    wait_for(lambda: storage.sensors.state("orders").inflight is None, 10, what="no tick in flight")
    stopped_at = storage.sensors.state("orders").last
    by_css(browser, '#sensors button[data-sensor="orders"]').click()
    wait_for(lambda: storage.sensors.state("orders").status == "RUNNING", 10, what="RUNNING")
    wait_for(
        lambda: storage.sensors.state("orders").last != stopped_at, 10, what="a tick after Start"
    )


def test_the_timeline_leads_to_a_failure_traceback_and_requests_to_their_runs(
    browser: Any, deployment: str, storage: Repositories, shots: Shots
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    browser.get(deployment + "/sensors/bucket_watch")
    marks = all_css(browser, "#timeline a.tick-mark")
    assert marks and "FAILURE" in {m.get_attribute("data-status") for m in marks}
    failure = all_css(browser, '#timeline a.tick-mark[data-status="FAILURE"] rect.hit')[-1]
    ActionChains(browser).move_to_element(failure).click().perform()
    wait_for(lambda: "/ticks/" in browser.current_url, 10, what="the tick's page")
    assert "FAILURE" in by_css(browser, "#tick-status").text
    assert by_css(browser, "#error-line").text == "RuntimeError: the bucket 'landing' is gone"
    traceback = by_css(browser, "pre#traceback").text
    assert "in list_bucket" in traceback and "webui_sensors.py" in traceback
    # The sensor's context.log lines of that tick, kept on its record.
    assert "listing bucket 'landing'" in by_css(browser, "#logs").text
    shots.take("tick-failure")

    # The orders sensor: a timeline of SUCCESS ticks, each request linked to its run.
    browser.get(deployment + "/sensors/orders")
    assert {m.get_attribute("data-status") for m in all_css(browser, "#timeline a.tick-mark")} >= {
        "SUCCESS"
    }
    shots.take("sensor")
    assert shots.page_width(NARROW) <= NARROW
    shots.take("sensor-narrow", NARROW)
    failed = next(r for r in all_css(browser, "#runs tbody tr") if "FAILURE" in r.text)
    failed.find_element("css selector", "a.run-link").click()
    wait_for(lambda: "/runs/" in browser.current_url, 10, what="the run's page")
    run_id = by_css(browser, "#run-id").text
    run = storage.runs.get(run_id)
    assert run is not None and run.status == "FAILURE"
    assert "FAILURE" in by_css(browser, "#run-status").text
    error = by_css(browser, "pre#run-error").text
    assert "ValueError" in error and "rows have no order id" in error
    assert '"batch"' in by_css(browser, "#run-config").text
    tags = by_css(browser, "#tags").text
    assert "dagster/sensor_name" in tags and "orders-api" in tags
    assert "FAILURE" in by_css(browser, "#events").text
    shots.take("run-failure")

    # From the run to the tick that asked for it, and back through its request's link.
    browser.find_element("link text", "its tick").click()
    wait_for(lambda: "/ticks/" in browser.current_url, 10, what="the tick's page")
    link = by_css(browser, "#requests a.run-link")
    assert run.run_key is not None and run.run_key in by_css(browser, "#requests").text
    link.click()
    wait_for(lambda: browser.current_url.endswith(run_id), 10, what="the run's page again")


def test_test_sensor_and_a_cursor_edit_change_only_what_they_say(
    browser: Any, deployment: str, storage: Repositories, settings: Settings, shots: Shots
) -> None:
    definitions = load_definitions(file=str(LOCATION))
    set_sensor_status(definitions, storage.sensors, "orders", DefaultSensorStatus.STOPPED)
    wait_for(lambda: storage.sensors.state("orders").inflight is None, 10, what="no tick in flight")
    cursor = storage.sensors.state("orders").cursor
    assert cursor is not None
    ticks_before = len(storage.ticks.history("orders", 1000))
    run_keys_before = storage.client.hgetall(storage.keys.run_keys("orders"))
    runs_before = {r.run_id for r in storage.runs.recent(sensor="orders", limit=1000)}

    browser.get(deployment + "/sensors/orders")
    type_token(browser, TOKEN)
    # Test with an old cursor: the request's run key was used, a real tick would drop it.
    replace_text(by_css(browser, "#test-cursor"), '"1"')
    by_css(browser, "#test-run").click()
    wait_for(lambda: "SUCCESS" in text_of(browser, "#test-result"), 10, what="the test's result")
    result = text_of(browser, "#test-result")
    assert "SUCCESS" in result and "batch-2" in result and "dropped: run key used" in result
    # With a new cursor: the request would launch a run.
    replace_text(by_css(browser, "#test-cursor"), '"1000"')
    by_css(browser, "#test-run").click()
    wait_for(lambda: "batch-1001" in text_of(browser, "#test-result"), 10, what="batch-1001")
    assert "launch a run" in by_css(browser, "#test-result").text
    assert '"1001"' in by_css(browser, "#test-cursor-after").text
    shots.take("test-sensor")
    # Nothing of either test was stored.
    assert storage.sensors.state("orders").cursor == cursor
    assert len(storage.ticks.history("orders", 1000)) == ticks_before
    assert storage.client.hgetall(storage.keys.run_keys("orders")) == run_keys_before
    assert {r.run_id for r in storage.runs.recent(sensor="orders", limit=1000)} == runs_before

    # A malformed cursor: a clear error, and the stored cursor is untouched.
    replace_text(by_css(browser, "#cursor-text"), '{"batch": ')
    by_css(browser, "#cursor-save").click()
    wait_for(lambda: bool(all_css(browser, "#cursor-error")), 10, what="the cursor error")
    message = by_css(browser, "#cursor-error").text
    assert "not valid JSON" in message and "Nothing was changed" in message
    assert storage.sensors.state("orders").cursor == cursor
    shots.take("cursor-error")
    # A good one is stored as typed.
    replace_text(by_css(browser, "#cursor-text"), '"41"')
    by_css(browser, "#cursor-save").click()
    wait_for(lambda: bool(all_css(browser, "#cursor-saved")), 10, what="the cursor to be saved")
    stored = storage.sensors.state("orders").cursor
    assert stored is not None and decode_value(stored) == "41"
    assert by_css(browser, "#cursor-value").text == '"41"'

    # The run-failure sensor is behind the failures that came after its first tick.
    browser.get(deployment + "/sensors/failed_orders")
    events_behind = int(by_css(browser, "#lag-events").text.rstrip("+"))
    assert events_behind >= 1
    assert by_css(browser, "#lag-seconds").text.endswith(("ms", "s", "min"))
    shots.take("event-lag")

    # A sensor whose ticks succeed, skip and fail by the clock: every colour on its timeline.
    # Like skips in a row share a mark: about three marks every four seconds,
    # so a slow machine may reach this page before the fifth.
    inbox = deployment + "/sensors/inbox"
    wait_for(lambda: timeline_marks(browser, inbox) >= 5, 20, 0.5, what="five timeline marks")
    shots.take("sensor-timeline")
    browser.get(deployment + "/deployment")
    assert "leader" in by_css(browser, "#processes").text
    assert "deadletter" in by_css(browser, "#queues").text
    shots.take("deployment")
