"""``lookout dev`` as a person runs it: a real process tree, in a folder of its own.

Each test starts ``lookout dev`` as a real process (its own embedded Redis,
scheduler, worker, launcher and UI), talks to it as a second terminal
would, and stops it by a signal or by killing a child; every process dev
reports must be gone afterwards.
"""

from __future__ import annotations

import io
import json
import os
import pty
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from lookout._tools.dev_state import DevState, nearest_running_dev, published, running_dev
from lookout._tools.prefixed import PrefixedConsole
from lookout._tools.redis_server import free_port, redis_server_binary
from tests.conftest import ROOT, Process, Spawn, wait_for

LOCATION = ["-m", "tests.locations.dev_guide"]
ROLES = {"scheduler", "worker", "launcher", "ui"}


def dev_env(tmp_path: Path) -> dict[str, str]:
    """A terminal with no lookout settings: no Redis URL, so dev embeds one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", DEV_GUIDE_DIR=str(tmp_path / "inbox"))
    return env


def start_dev(spawn: Spawn, tmp_path: Path, *extra: str) -> tuple[Process, str]:
    """``lookout dev`` in ``tmp_path``, once it has said where its UI is."""
    proc = spawn(
        ["lookout", "dev", *LOCATION, "--port", "0", *extra],
        dev_env(tmp_path),
        log_name="dev",
        cwd=tmp_path,
    )
    wait_for(
        lambda: "UI at http" in proc.log_text() or proc.poll() is not None, 90, what="dev's UI"
    )
    assert proc.poll() is None, proc.log_text()
    found = re.search(r"UI at (http://\S+)", proc.log_text())
    assert found is not None
    return proc, found.group(1)


def reported_pids(output: str) -> dict[str, int]:
    """Every process dev said it started: its children and its Redis."""
    pids = {role: int(pid) for role, pid in re.findall(r"started (\w+) \(pid (\d+)\)", output)}
    redis_pid = re.search(r"\(embedded, pid (\d+)\)", output)
    if redis_pid is not None:
        pids["redis"] = int(redis_pid.group(1))
    return pids


def gone(pid: int) -> bool:
    """The process is gone, and so is every process of the group it led (a worker's pool)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return not group_members(pid)
    return False


def group_members(pgid: int) -> list[int]:
    """The live processes of process group ``pgid``, from /proc."""
    members = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        # After the command's name: state, ppid, pgrp; a zombie is gone already.
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat_file.parent.name))
    return members


def beside(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A lookout command in a second terminal in dev's folder, with no flags for Redis."""
    return subprocess.run(
        [sys.executable, "-m", "lookout._tools.cli", *args],
        env={**dev_env(tmp_path), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_dev_serves_its_ui_lends_its_redis_and_stops_on_ctrl_c_in_under_2s(
    spawn: Spawn, tmp_path: Path
) -> None:
    dev, ui_url = start_dev(spawn, tmp_path, "--start-all")
    with urllib.request.urlopen(ui_url, timeout=10) as page:
        assert page.status == 200

    # The export line for other folders names the Redis dev writes for this one.
    state = json.loads((tmp_path / ".lookout" / "dev.json").read_text())
    assert state["pid"] == dev.pid and state["ui_url"] == ui_url
    assert f"export LOOKOUT_REDIS_URL={state['redis_url']}" in dev.log_text()

    # A second terminal, same folder, no flags: dev's Redis, where --start-all
    # started the sensor the guide leaves STOPPED.
    listed = beside(tmp_path, "sensor", "list", *LOCATION, "--json")
    assert listed.returncode == 0, listed.stderr
    assert {s["name"]: s["status"] for s in json.loads(listed.stdout)} == {
        "inbox_sensor": "RUNNING",
        "idle_sensor": "RUNNING",
    }
    assert f"using the Redis of lookout dev (pid {dev.pid})" in listed.stderr
    # A Redis named by the command or its environment wins over dev's.
    closed = free_port()
    url = f"redis://127.0.0.1:{closed}/0"
    for named in (
        beside(tmp_path, "runs", "list", "--redis-url", url),
        beside(tmp_path, "runs", "list", LOOKOUT_REDIS_URL=url),
    ):
        assert named.returncode == 1 and "lookout dev" not in named.stderr
        assert f"cannot reach Redis at 127.0.0.1:{closed}" in named.stderr

    # The stack works: a file in the inbox becomes a run that dev prints.
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.csv").write_text("a\n")
    wait_for(lambda: "landing_job SUCCESS" in dev.log_text(), 60, what="the run's SUCCESS")
    # Every child's output is on dev's console behind its role.
    for role in ROLES:
        assert re.search(rf"^\d\d:\d\d:\d\d {role} +\| \S", dev.log_text(), re.MULTILINE), role

    # A second dev in the same folder is refused in one line, and changes nothing.
    again = beside(tmp_path, "dev", *LOCATION, "--port", "0")
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [
        f"error: lookout dev is already running in this directory (pid {dev.pid}, UI {ui_url})"
    ]
    assert json.loads((tmp_path / ".lookout" / "dev.json").read_text()) == state

    pids = reported_pids(dev.log_text())
    assert set(pids) == {*ROLES, "redis"}
    started = time.monotonic()
    os.killpg(dev.pid, signal.SIGINT)  # Ctrl-C at the terminal
    dev.wait(10)
    took = time.monotonic() - started
    assert took < 2.0, f"lookout dev took {took:.2f} s to stop"
    assert dev.returncode == 0, dev.log_text()
    assert [role for role, pid in pids.items() if not gone(pid)] == []
    said = re.findall(r"^\d\d:\d\d:\d\d dev +\| (.*)$", dev.log_text(), re.MULTILINE)
    # Children first, Redis last.
    assert said[-3:] == ["stopped ui", "stopped redis", "stopped"], said[-8:]

    # The state file is gone; the logs stay.
    assert not (tmp_path / ".lookout" / "dev.json").exists()
    logs = tmp_path / ".lookout" / "logs"
    assert {p.stem for p in logs.glob("*.log")} == ROLES
    assert "ready" in (logs / "worker.log").read_text()


def test_dev_reports_a_killed_child_with_its_log_tail_and_stops_everything(
    spawn: Spawn, tmp_path: Path
) -> None:
    dev, _ = start_dev(spawn, tmp_path)
    pids = reported_pids(dev.log_text())
    wait_for(
        lambda: "ready" in (tmp_path / ".lookout" / "logs" / "worker.log").read_text(),
        60,
        what="the worker",
    )
    os.kill(pids["worker"], signal.SIGKILL)
    dev.wait(20)
    assert dev.returncode == 1
    out = dev.log_text()
    assert f"the worker (pid {pids['worker']}) was killed by SIGKILL; the end of its log:" in out
    # The tail shown is the log's own last lines, and the log stays for a closer look.
    tail = (tmp_path / ".lookout" / "logs" / "worker.log").read_text().splitlines()[-1]
    assert f"|   {tail}".rstrip() in out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: the worker was killed by SIGKILL")
    assert [role for role, pid in pids.items() if not gone(pid)] == []
    assert not (tmp_path / ".lookout" / "dev.json").exists()


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A redis-server that wants a password: its URL, and the password."""
    port, password = free_port(), "s3cret-pw"
    server = subprocess.Popen(
        [
            redis_server_binary(),
            *("--port", str(port), "--bind", "127.0.0.1", "--save", ""),
            *("--dir", str(tmp_path), "--requirepass", password),
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        wait_for(lambda: _pings(client), 10, what="redis-server")
        yield url, password
    finally:
        client.close()
        server.terminate()
        server.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_dev_on_a_given_redis_never_prints_its_password(
    spawn: Spawn, tmp_path: Path, password_redis: tuple[str, str]
) -> None:
    url, password = password_redis
    dev, _ = start_dev(spawn, tmp_path, "--redis-url", url)
    listed = beside(tmp_path, "sensor", "list", *LOCATION)
    assert listed.returncode == 0, listed.stderr
    assert "idle_sensor" in listed.stdout
    dev.send_signal(signal.SIGHUP)  # its terminal closed: a clean stop all the same
    dev.wait(10)
    assert dev.returncode == 0
    everything = dev.log_text() + listed.stdout + listed.stderr
    assert password not in everything
    masked = url.replace(password, "***")
    assert f"export LOOKOUT_REDIS_URL='{masked}'" in dev.log_text()
    assert f"using the Redis of lookout dev (pid {dev.pid}): {masked}" in listed.stderr
    assert [role for role, pid in reported_pids(dev.log_text()).items() if not gone(pid)] == []
    # The given Redis is not dev's to stop.
    assert "stopped redis" not in dev.log_text()
    assert _pings(redis.Redis.from_url(url))


def test_dev_state_file_is_for_its_owner_only_found_from_below_and_ignored_once_dev_is_gone(
    tmp_path: Path,
) -> None:
    state = DevState(os.getpid(), "redis://:pw@127.0.0.1:1/0", "lookout:", "http://x")
    with published(tmp_path, state) as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert running_dev(tmp_path) == state
        # The commands of a folder below find it too, as git finds its repository.
        assert running_dev(tmp_path / "src") is None
        assert nearest_running_dev(tmp_path / "src" / "pkg") == state
    assert not path.exists()
    # A dev killed by SIGKILL leaves its file behind: a dead pid is not a running dev.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path.write_text(json.dumps({**state.__dict__, "pid": dead.pid}))
    assert running_dev(tmp_path) is None


def test_prefixes_are_coloured_on_a_terminal_and_plain_when_piped() -> None:
    piped = io.StringIO()
    PrefixedConsole(["dev", "worker"], piped).line("worker", "ready")
    assert re.fullmatch(r"\d\d:\d\d:\d\d worker \| ready\n", piped.getvalue())

    leader, follower = pty.openpty()
    with os.fdopen(follower, "w") as terminal:
        PrefixedConsole(["dev", "worker"], terminal).line("worker", "ready")
    shown = os.read(leader, 1000).decode()
    os.close(leader)
    assert "\x1b[" in shown and shown.rstrip().endswith("worker |\x1b[0m ready")


def test_dev_says_how_to_start_sensors_when_every_one_is_stopped(
    spawn: Spawn, tmp_path: Path
) -> None:
    # --for 0: up, then straight down again.
    dev = spawn(
        ["lookout", "dev", "-m", "tests.locations.core_sensors", "--port", "0", "--for", "0"],
        dev_env(tmp_path),
        log_name="dev",
        cwd=tmp_path,
    )
    assert dev.wait(60) == 0, dev.log_text()
    assert (
        "every sensor is STOPPED: start one with "
        "`lookout sensor start NAME -m tests.locations.core_sensors` or in the UI, "
        "or run lookout dev with --start-all"
    ) in dev.log_text()
    assert [role for role, pid in reported_pids(dev.log_text()).items() if not gone(pid)] == []
