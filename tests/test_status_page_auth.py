"""The status page over real HTTP: a ``lookout monitor`` process and plain requests.

Reading needs no token; every state change needs the operator's token, and a
refused one changes nothing in Redis.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

from lookout import Settings
from lookout._tools.operator import set_cursor
from lookout.testing import (
    Repositories,
    free_port,
    load_definitions,
    sync_definitions,
    tick_runner,
)
from tests.conftest import Spawn, process_env, wait_for

LOCATION = Path(__file__).resolve().parent / "locations" / "monitor_sensors.py"
TOKEN = "correct horse battery staple"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    headers: Message  # header names are case-insensitive, as HTTP says


def request(
    url: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> Reply:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with _opener.open(req, timeout=10) as resp:
            return Reply(resp.status, resp.read().decode(), resp.headers)
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read().decode(), exc.headers)


def start_monitor(
    spawn: Spawn, settings: Settings, token: str | None, location: Path = LOCATION
) -> str:
    port = free_port()
    env = process_env(settings, LOOKOUT_MONITOR_PORT=str(port))
    env.pop("LOOKOUT_ADMIN_TOKEN", None)
    if token is not None:
        env["LOOKOUT_ADMIN_TOKEN"] = token
    proc = spawn(["lookout", "monitor", "-f", str(location)], env, log_name="monitor")
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, "the monitor exited (see its log in the test's tmp_path)"
        try:
            return request(base + "/healthz").status == 200
        except OSError:
            return False

    wait_for(up, 20, 0.1, "the monitor to answer /healthz")
    return base


@pytest.fixture
def prepared(storage: Repositories, settings: Settings) -> Repositories:
    """Sensors synced, a few ticks committed, a cursor set."""
    defs = load_definitions(file=str(LOCATION))
    sync_definitions(defs, storage.sensors)
    runner = tick_runner(defs, storage, settings)
    for name in ("counter", "quiet", "broken"):
        runner.tick(name)
    set_cursor(defs, storage.sensors, "quiet", {"seen": 3})
    return storage


def test_reading_needs_no_token(spawn: Spawn, settings: Settings, prepared: Repositories) -> None:
    base = start_monitor(spawn, settings, TOKEN)
    page = request(base + "/")
    assert page.status == 200
    for text in ("counter", "quiet", "broken", "RuntimeError: the bucket is gone", "nothing new"):
        assert text in page.body
    detail = request(base + "/sensors/counter")
    assert detail.status == 200
    assert "Recent ticks" in detail.body and "SUCCESS" in detail.body
    assert request(base + "/sensors/nope").status == 404
    assert request(base + "/metrics").status == 200
    assert request(base + "/api/figures").status == 200


def test_a_state_change_without_the_right_token_is_401_and_changes_nothing(
    spawn: Spawn, settings: Settings, prepared: Repositories
) -> None:
    base = start_monitor(spawn, settings, TOKEN)
    before = prepared.sensors.state("counter")
    due_before = prepared.client.zscore(prepared.keys.due, "counter")
    cursor_before = prepared.sensors.state("quiet").cursor
    attempts = [
        ("/sensors/counter/stop", {}, {}),
        ("/sensors/counter/stop", {"token": "wrong"}, {}),
        ("/sensors/counter/stop", {}, {"X-Lookout-Token": "wrong"}),
        ("/sensors/counter/stop", {}, {"Authorization": "Bearer wrong"}),
        ("/sensors/counter/stop", {"token": ""}, {}),
        ("/sensors/quiet/reset-cursor", {}, {}),
    ]
    for path, form, headers in attempts:
        reply = request(base + path, form, headers)
        assert reply.status == 401, (path, form, headers)
        assert reply.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert prepared.sensors.state("counter") == before
    assert prepared.client.zscore(prepared.keys.due, "counter") == due_before
    assert prepared.sensors.state("quiet").cursor == cursor_before


def test_the_operator_token_stops_starts_and_resets_a_cursor(
    spawn: Spawn, settings: Settings, prepared: Repositories
) -> None:
    base = start_monitor(spawn, settings, TOKEN)
    reply = request(base + "/sensors/counter/stop", {"token": TOKEN, "back": "/"})
    assert reply.status == 303 and reply.headers["Location"] == "/"
    assert prepared.sensors.state("counter").status == "STOPPED"
    assert prepared.client.zscore(prepared.keys.due, "counter") is None

    reply = request(base + "/sensors/counter/start", {}, {"X-Lookout-Token": TOKEN})
    assert reply.status == 303
    assert prepared.sensors.state("counter").status == "RUNNING"
    assert prepared.client.zscore(prepared.keys.due, "counter") is not None

    assert prepared.sensors.state("quiet").cursor is not None
    reply = request(base + "/sensors/quiet/reset-cursor", {}, {"Authorization": f"Bearer {TOKEN}"})
    assert reply.status == 303
    assert prepared.sensors.state("quiet").cursor is None

    # A name that is not in the code location is refused before anything is written.
    assert request(base + "/sensors/nope/stop", {"token": TOKEN}).status == 404
    assert not prepared.client.exists(prepared.keys.sensor("nope"))
    # An off-site "back" is not followed.
    reply = request(base + "/sensors/counter/stop", {"token": TOKEN, "back": "//evil.example/"})
    assert reply.headers["Location"] == "/"


def test_with_no_token_configured_state_changes_are_disabled(
    spawn: Spawn, settings: Settings, prepared: Repositories
) -> None:
    base = start_monitor(spawn, settings, None)
    before = prepared.sensors.state("counter")
    reply = request(base + "/sensors/counter/stop", {"token": ""})
    assert reply.status == 403
    reply = request(base + "/sensors/counter/stop", {"token": TOKEN})
    assert reply.status == 403
    assert prepared.sensors.state("counter") == before
    page = request(base + "/")
    assert "State changes are disabled" in page.body
    assert "<button" not in page.body
