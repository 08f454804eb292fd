"""Settings are checked as a process starts: a bad one is one line naming it, and exit 1.

Before, a negative timeout started every process and failed every tick, a
URL with a bad port ended in a traceback, and a leader TTL shorter than two
renewals let the leader lose its lock between renewals.  ``LOOKOUT_LOGLEVEL``
is honoured by every long-running process.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import pytest

from lookout._core.settings import Settings, SettingsError
from lookout._tools.redis_server import free_port
from lookout.testing import Repositories
from tests.conftest import ROOT, Spawn, process_env, wait_for
from tests.locations.work_support import log_text

LOCATION = "tests.locations.work_basic"

BAD = [
    ({"LOOKOUT_TICK_TIMEOUT": "-5"}, "LOOKOUT_TICK_TIMEOUT=-5 must be more than 0"),
    ({"LOOKOUT_TICK_HISTORY": "many"}, "LOOKOUT_TICK_HISTORY='many' is not a valid int"),
    ({"LOOKOUT_HEARTBEAT_INTERVAL": "nan"}, "LOOKOUT_HEARTBEAT_INTERVAL=nan must be a finite"),
    (
        {"LOOKOUT_REDIS_URL": "redis://:s3cret@127.0.0.1:notaport/0"},
        "LOOKOUT_REDIS_URL=redis://:***@127.0.0.1:notaport/0 is not a Redis URL: Port could not",
    ),
    (
        {"LOOKOUT_REDIS_URL": "http://127.0.0.1:6379/0"},
        "LOOKOUT_REDIS_URL=http://127.0.0.1:6379/0 is not a Redis URL",
    ),
    ({"LOOKOUT_REDIS_URL": "redis://127.0.0.1:6379/zero"}, "a database is a number"),
    ({"LOOKOUT_LEADER_TTL": "1"}, "LOOKOUT_LEADER_TTL=1 must be at least twice"),
    (
        {"LOOKOUT_REDIS_SOCKET_TIMEOUT": "1"},
        "LOOKOUT_REDIS_SOCKET_TIMEOUT=1 must be longer than the longest blocking read",
    ),
    ({"LOOKOUT_REDIS_MIN_REPLICAS": "-1"}, "LOOKOUT_REDIS_MIN_REPLICAS=-1 must be 0 or more"),
    (
        {"LOOKOUT_REDIS_REPLICA_WAIT": "5", "LOOKOUT_REDIS_MIN_REPLICAS": "1"},
        "LOOKOUT_REDIS_REPLICA_WAIT=5 must be shorter than LOOKOUT_REDIS_SOCKET_TIMEOUT=5",
    ),
]


def _run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "lookout._tools.cli", command, "-m", LOCATION]
    return subprocess.run(
        argv, check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(("bad", "message"), BAD, ids=[str(next(iter(b))) for b, _ in BAD])
def test_a_bad_setting_stops_the_scheduler_at_start_with_one_line(
    settings: Settings, bad: dict[str, str], message: str
) -> None:
    done = _run("scheduler", process_env(settings, **bad))
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr  # one line
    assert done.stderr.startswith("error: ") and message in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "s3cret" not in done.stdout + done.stderr


@pytest.mark.parametrize("command", ["worker", "launcher", "monitor"])
def test_every_process_refuses_a_bad_setting_at_start(settings: Settings, command: str) -> None:
    for bad, message in (BAD[0], BAD[6]):
        done = _run(command, process_env(settings, **bad))
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_settings_built_from_the_environment_are_checked() -> None:
    assert Settings.from_env({}) == Settings()
    with pytest.raises(SettingsError, match="LOOKOUT_INFLIGHT_MARGIN=-1 must be 0 or more"):
        Settings.from_env({"LOOKOUT_INFLIGHT_MARGIN": "-1"})
    with pytest.raises(SettingsError, match="LOOKOUT_LEADER_TTL=5 must be at least twice"):
        Settings.from_env({}, leader_renew=3.0)


def test_a_flag_is_read_from_its_words_and_task_events_are_off_by_default() -> None:
    assert Settings().task_events is False
    for word, flag in (("1", True), ("True", True), ("on", True), ("no", False), ("0", False)):
        assert Settings.from_env({"LOOKOUT_TASK_EVENTS": word}).task_events is flag
    # bool("false") would be True: a word that is no flag is refused, naming the variable.
    with pytest.raises(SettingsError, match="LOOKOUT_TASK_EVENTS='maybe' is not a flag"):
        Settings.from_env({"LOOKOUT_TASK_EVENTS": "maybe"})


def test_loglevel_is_honoured_by_the_launcher_and_the_monitor(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    quiet = process_env(settings, LOOKOUT_LOGLEVEL="WARNING")
    launcher = spawn(["lookout", "launcher", "-m", LOCATION], quiet, "launcher")
    port = free_port()
    chatty = process_env(
        settings, LOOKOUT_LOGLEVEL="DEBUG", LOOKOUT_MONITOR_PORT=str(port), LOOKOUT_MODULE=LOCATION
    )
    monitor = spawn(["lookout", "monitor"], chatty, "monitor")
    wait_for(
        lambda: {p.role for p in storage.processes.heartbeats()} >= {"launcher", "monitor"},
        30,
        what="the launcher and the monitor to run",
    )
    # The monitor heartbeats as it starts; its server listens a moment later.
    wait_for(
        lambda: "lookout monitor on http" in log_text(monitor), 30, what="the monitor to listen"
    )
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
        assert answer.status == 200
    # DEBUG: the monitor logs each request; WARNING: the launcher keeps its INFO lines to itself.
    wait_for(lambda: "GET /healthz" in log_text(monitor), 10, what="the request in the log")
    assert launcher.poll() is None and " INFO " not in log_text(launcher), log_text(launcher)
