"""The status page in headless Chromium, driven by chromedriver, against a live deployment.

A real scheduler, worker, launcher and monitor run on the test's Redis.  The
browser stops a sensor with the operator's token and the change shows in
Redis; without the token the same button is refused with 401 and nothing
changes.  With LOOKOUT_UPDATE_SCREENSHOT=1 its screenshot becomes the README's
picture (docs/status-page.png).

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
from lookout.testing import Repositories, load_definitions, tick_runner
from tests.conftest import Spawn, process_env, wait_for
from tests.test_status_page_auth import LOCATION, TOKEN, start_monitor

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "status-page.png"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)",
)


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
        "--window-size=1360,1000",
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
def deployment(spawn: Spawn, settings: Settings, storage: Repositories) -> str:
    """A scheduler, a worker and a launcher at work, and a monitor with a token."""
    env = process_env(settings, LOOKOUT_FILE=str(LOCATION), LOOKOUT_MODULE="")
    spawn(["lookout", "scheduler"], env, log_name="scheduler")
    spawn(["lookout", "worker", "--concurrency", "1"], env, log_name="worker")
    spawn(["lookout", "launcher"], env, log_name="launcher")
    base = start_monitor(spawn, settings, TOKEN)
    # A failing sensor too, so the page shows an error (it is STOPPED by default).
    tick_runner(load_definitions(file=str(LOCATION)), storage, settings).tick("broken")
    wait_for(
        lambda: (
            storage.metrics.run_counts()["SUCCESS"] >= 2
            and {p.role for p in storage.processes.heartbeats()}
            >= {"scheduler", "worker", "launcher"}
        ),
        60,
        0.2,
        "runs to succeed and every process to heartbeat",
    )
    return base


def test_stopping_a_sensor_from_the_page_changes_redis_and_needs_the_token(
    browser: Any, deployment: str, storage: Repositories, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(deployment + "/")
    assert browser.title == "lookout"
    summary = browser.find_element(By.ID, "summary").text
    assert "leader:" in summary and "1 worker(s)" in summary
    rows = browser.find_elements(By.CSS_SELECTOR, "#sensors tbody tr")
    assert [r.find_element(By.TAG_NAME, "a").text for r in rows] == ["counter", "quiet", "broken"]
    assert "RuntimeError: the bucket is gone" in rows[2].text
    assert storage.sensors.state("counter").status is None  # the code's default: RUNNING

    # The operator types the token once and stops `counter`.
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    stop = browser.find_element(By.CSS_SELECTOR, 'button[data-sensor="counter"][value="stop"]')
    stop.click()
    wait_for(
        lambda: storage.sensors.state("counter").status == "STOPPED",
        10,
        what="counter to be STOPPED in Redis",
    )
    assert storage.client.zscore(storage.keys.due, "counter") is None
    wait_for(lambda: browser.current_url == deployment + "/", 10, what="the page to come back")
    row = browser.find_element(By.CSS_SELECTOR, "#sensors tbody tr")
    assert "STOPPED" in row.text
    # The README's picture is refreshed only on request, so a test run leaves
    # the work tree as it found it.
    shot = SCREENSHOT if os.environ.get("LOOKOUT_UPDATE_SCREENSHOT") else tmp_path / "page.png"
    shot.parent.mkdir(exist_ok=True)
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000

    # Without the token: the browser's request is refused with 401, nothing changes.
    status = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/sensors/counter/start', {method: 'POST'}).then((r) => done(r.status));"
    )
    assert status == 401
    token_box = browser.find_element(By.ID, "token")
    token_box.clear()
    browser.execute_script("sessionStorage.clear()")
    browser.find_element(By.CSS_SELECTOR, 'button[data-sensor="counter"][value="start"]').click()
    wait_for(lambda: browser.title == "Unauthorized", 10, what="the 401 page")
    assert storage.sensors.state("counter").status == "STOPPED"
    assert storage.client.zscore(storage.keys.due, "counter") is None
