"""The CLI for scripts and for people: ``--json`` listings, run ids by prefix, fitted tables."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time

from lookout import Settings
from lookout._base.wire import RunRecord
from lookout.testing import Repositories
from lookout.workers.runs import status_event
from tests.conftest import ROOT, process_env

LOCATION = ["-m", "tests.locations.core_sensors"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def lookout(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lookout._tools.cli", *args],
        env=process_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def on_terminal(settings: Settings, columns: int, *args: str) -> str:
    """What ``lookout ARGS`` shows on a terminal ``columns`` wide (a real pseudo-terminal)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = process_env(settings)
    env.pop("NO_COLOR", None)
    # The terminal's own size decides: a COLUMNS or LINES inherited from the
    # test runner (pytest-xdist's workers have COLUMNS=80) would override it.
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookout._tools.cli", *args],
        env=env,
        cwd=ROOT,
        stdout=follower,
        stderr=subprocess.DEVNULL,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other side closed: everything was read
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert proc.wait(60) == 0
    return shown.decode().replace("\r\n", "\n")


def make_runs(storage: Repositories, *run_ids: str) -> list[RunRecord]:
    """Runs as a launcher creates them, with ids chosen by the test."""
    now = time.time()
    records = [
        RunRecord(
            run_id=run_id,
            job_name="work",
            status="QUEUED",
            created_at=now + i,
            sensor="partitioned",
            run_key=f"key-{i}",
            tags={"team": "data"},
        )
        for i, run_id in enumerate(run_ids)
    ]
    created = storage.runs.create([(r, status_event(r, r.status, r.created_at)) for r in records])
    assert all(c.created for c in created)
    return records


def test_every_listing_command_prints_json_for_scripts(
    settings: Settings, storage: Repositories
) -> None:
    assert lookout(settings, "sensor", "tick", "partitioned", *LOCATION).returncode == 0
    assert (
        lookout(settings, "sensor", "cursor", "skipper", "--set", "c1", *LOCATION).returncode == 0
    )
    make_runs(storage, "5e1f0000-aaaa", "5e2f0000-bbbb")

    def listed(*args: str) -> object:
        out = lookout(settings, *args)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    sensors = listed("sensor", "list", "--json", *LOCATION)
    assert isinstance(sensors, list)
    by_name = {s["name"]: s for s in sensors}
    assert by_name["partitioned"]["jobs"] == ["work"]
    assert by_name["partitioned"]["status"] == "STOPPED"
    assert by_name["partitioned"]["last_tick"]["status"] == "SUCCESS"
    assert by_name["skipper"]["last_tick"] is None

    ticks = listed("sensor", "ticks", "partitioned", "--json", *LOCATION)
    assert isinstance(ticks, list) and len(ticks) == 1
    tick = ticks[0]
    assert tick["status"] == "SUCCESS" and len(tick["run_request_ids"]) == 1
    assert tick["requests"][0]["run_key"] == "p1"

    runs = listed("runs", "list", "--json")
    assert isinstance(runs, list)
    assert [r["run_id"] for r in runs] == ["5e2f0000-bbbb", "5e1f0000-aaaa"]  # newest first
    shown = listed("runs", "show", "5e2f0000-bbbb", "--json")
    assert isinstance(shown, dict)
    assert shown["run_key"] == "key-1" and shown["tags"] == {"team": "data"}

    figures = listed("queues", "--json")
    assert isinstance(figures, dict) and "queues" in figures
    assert listed("dead-letters", "--json") == []


def test_a_run_id_is_accepted_by_any_unique_prefix(
    settings: Settings, storage: Repositories
) -> None:
    make_runs(storage, "7a1f3c00-0001", "7a2b9d00-0002", "c0ffee00-0003")
    shown = lookout(settings, "runs", "show", "7a1")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("run 7a1f3c00-0001\n")
    assert lookout(settings, "runs", "show", "c0ffee00-0003").returncode == 0

    for prefix, error in [
        ("7a", "error: run id prefix '7a' is ambiguous (7a1f3c00-0001, 7a2b9d00-0002): "),
        ("9", "error: no run id starts with '9'"),
        # A pattern character is a character, not a wildcard matching every run.
        ("*", "error: no run id starts with '*'"),
        ("7a[12]", "error: no run id starts with '7a[12]'"),
    ]:
        out = lookout(settings, "runs", "show", prefix)
        assert out.returncode == 1 and out.stdout == ""
        (line,) = out.stderr.splitlines()
        # The two ambiguous ids come in the index's order; the message names both.
        assert line.startswith(error.split(" (")[0]), line
        if prefix == "7a":
            assert "7a1f3c00-0001" in line and "7a2b9d00-0002" in line and "give more" in line


def test_tables_fit_a_narrow_terminal_in_colour_and_stay_whole_when_piped(
    settings: Settings, storage: Repositories
) -> None:
    long_id = "d00d" * 9
    make_runs(storage, long_id)
    assert lookout(settings, "sensor", "tick", "skipper", *LOCATION).returncode == 0

    for args in (["runs", "list"], ["sensor", "list", *LOCATION]):
        shown = on_terminal(settings, 60, *args)
        plain = ANSI.sub("", shown)
        assert ANSI.search(shown), shown  # coloured: the header, the statuses
        widths = [len(line) for line in plain.splitlines()]
        assert max(widths) <= 60, plain
    # Cut short on the terminal, the run id is still the start of it, enough for runs show.
    narrow = ANSI.sub("", on_terminal(settings, 60, "runs", "list"))
    assert long_id not in narrow and long_id[:8] in narrow and "\u2026" in narrow
    # A status is coloured by what it says: QUEUED in blue.
    assert "\x1b[34mQUEUED" in on_terminal(settings, 200, "runs", "list")

    piped = lookout(settings, "runs", "list")
    assert piped.returncode == 0 and not ANSI.search(piped.stdout)
    assert long_id in piped.stdout  # whole: a script cuts columns itself
    assert piped.stdout.splitlines()[0].split() == [
        "RUN",
        "JOB",
        "STATUS",
        "SENSOR",
        "RUN",
        "KEY",
        "RETRY",
        "OF",
        "CREATED",
        "TOOK",
        "ERROR",
    ]
