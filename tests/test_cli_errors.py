"""Bad input, everywhere: one ``error: ...`` line, exit status 1, and nothing changed.

A down Redis is one of them: the CLI and the monitor say so, with its
address, in about a second (a closed loopback port stands for it).
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lookout import Settings
from lookout._base.errors import StorageError
from lookout._core.redis_url import masked_url
from lookout._tools.cli._options import open_storage
from lookout._tools.redis_server import EmbeddedRedis, free_port
from lookout.testing import Repositories
from tests.conftest import ROOT, Spawn, process_env, text, wait_for

LOCATION = ["-m", "tests.locations.core_sensors"]
SCHEMES = "Redis URL must specify one of the following schemes (redis://, rediss://, unix://)"


def lookout(
    settings: Settings, *args: str, cwd: Path = ROOT, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lookout._tools.cli", *args],
        env=process_env(settings, **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def snapshot(storage: Repositories) -> dict[str, bytes | None]:
    """Every key and its serialized value: what "nothing changed" is checked against."""
    return {text(key): storage.client.dump(key) for key in storage.client.keys("*")}


BAD_INPUT = [
    (
        ["sensor", "list", *LOCATION, "--redis-url", "foo://x"],
        f"error: LOOKOUT_REDIS_URL=foo://x is not a Redis URL: {SCHEMES}",
    ),
    (
        ["sensor", "start", "skipper", *LOCATION, "--redis-url", "foo://:hunter2@x"],
        f"error: LOOKOUT_REDIS_URL=foo://:***@x is not a Redis URL: {SCHEMES}",
    ),
    (
        ["runs", "list", "--redis-url", "redis://127.0.0.1:notaport/0"],
        "error: LOOKOUT_REDIS_URL=redis://127.0.0.1:notaport/0 is not a Redis URL: "
        "Port could not be cast to integer value as 'notaport'",
    ),
    (
        ["queues", "--redis-url", "foo://x"],
        f"error: LOOKOUT_REDIS_URL=foo://x is not a Redis URL: {SCHEMES}",
    ),
    (
        ["monitor", *LOCATION, "--port", "0", "--redis-url", "foo://x"],
        f"error: LOOKOUT_REDIS_URL=foo://x is not a Redis URL: {SCHEMES}",
    ),
    (
        ["dev", *LOCATION, "--port", "0", "--redis-url", "foo://x"],
        f"error: LOOKOUT_REDIS_URL=foo://x is not a Redis URL: {SCHEMES}",
    ),
    (
        ["sensor", "cursor", "skipper", "--set", "{not json", "--json", *LOCATION],
        "error: --set value is not valid JSON: Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1)",
    ),
    (
        ["sensor", "cursor", "skipper", "--set", "x", "--reset", *LOCATION],
        "error: give --set or --reset, not both",
    ),
    (
        ["sensor", "start", "nope", *LOCATION],
        "error: no sensor named 'nope' (known: exiter, flaky, keyed_a, keyed_b, "
        "nested_cursor, partitioned, skipper, sleepy, stubborn, swallower)",
    ),
    (["runs", "show", "nope"], "error: no run id starts with 'nope'"),
    (
        ["runs", "list", "--limit", "0"],
        "error: Invalid value for '--limit': 0 is not in the range x>=1. "
        "(see 'lookout runs list --help')",
    ),
    (
        ["runs", "list", "--status", "BOGUS"],
        "error: Invalid value for '--status': 'BOGUS' is not one of 'queued', 'started', "
        "'success', 'failure', 'canceled'. (see 'lookout runs list --help')",
    ),
    (["sensor", "nope"], "error: No such command 'nope'. (see 'lookout sensor --help')"),
    (
        ["sensor", "reset-run-keys", "skipper", *LOCATION],
        "error: aborted",  # no confirmation on standard input
    ),
]


@pytest.mark.parametrize(("args", "error"), BAD_INPUT, ids=[" ".join(a[:2]) for a, _ in BAD_INPUT])
def test_bad_input_is_one_error_line_exit_1_and_changes_nothing(
    settings: Settings, storage: Repositories, tmp_path: Path, args: list[str], error: str
) -> None:
    assert (
        lookout(settings, "sensor", "cursor", "skipper", "--set", "kept", *LOCATION).returncode == 0
    )
    assert lookout(settings, "sensor", "tick", "partitioned", *LOCATION).returncode == 0
    before = snapshot(storage)
    out = lookout(settings, *args, cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.splitlines()[-1:] == [error]
    # One line: only a confirmation prompt may come before it.
    assert len(out.stderr.splitlines()) == 1 or args[1] == "reset-run-keys", out.stderr
    assert "Traceback" not in out.stderr and "hunter2" not in out.stderr
    assert snapshot(storage) == before
    assert not (tmp_path / ".lookout").exists()  # dev started nothing, wrote nothing


def test_a_down_redis_is_reported_within_about_a_second_with_its_address(
    settings: Settings,
) -> None:
    closed = free_port()  # bound, then closed: nothing listens there
    down = Settings(redis_url=f"redis://127.0.0.1:{closed}/0")
    started = time.monotonic()
    with pytest.raises(StorageError, match=f"cannot reach Redis at 127.0.0.1:{closed}"):
        open_storage(down)
    assert time.monotonic() - started < 1.0

    for args in (
        ["sensor", "list", *LOCATION],
        ["runs", "show", "abc"],
        ["queues"],
        ["dead-letters"],
        ["monitor", *LOCATION, "--port", "0"],
        ["dev", *LOCATION, "--port", "0"],
    ):
        out = lookout(down, *args)
        assert out.returncode == 1, args
        assert out.stderr.splitlines() == [
            f"error: cannot reach Redis at 127.0.0.1:{closed}: "
            f"Error 111 connecting to 127.0.0.1:{closed}. Connection refused."
        ], args


def test_the_monitor_answers_promptly_when_its_redis_goes_down(spawn: Spawn) -> None:
    server = EmbeddedRedis().start()
    try:
        port = free_port()
        settings = Settings(redis_url=server.url)
        monitor = spawn(
            ["lookout", "monitor", *LOCATION, "--port", str(port)],
            process_env(settings),
            log_name="monitor",
        )
        metrics = f"http://127.0.0.1:{port}/metrics"
        wait_for(lambda: _status(metrics) == 200, 60, what="the monitor")
    finally:
        server.stop()
    started = time.monotonic()
    status = _status(metrics)
    took = time.monotonic() - started
    assert took < 2.0, f"/metrics took {took:.2f} s with Redis down"
    assert status in (200, 503)  # either way, an answer Prometheus gets in time
    assert monitor.poll() is None  # and the monitor lives on


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def test_passwords_are_masked_in_every_url_lookout_prints() -> None:
    assert masked_url("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert masked_url("rediss://user:p%40ss@h:6380/1") == "rediss://user:***@h:6380/1"
    assert masked_url("unix:///run/redis.sock?db=0&password=pw") == (
        "unix:///run/redis.sock?db=0&password=***"
    )
    assert masked_url("redis://user@h/0") == "redis://user@h/0"
    assert masked_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
