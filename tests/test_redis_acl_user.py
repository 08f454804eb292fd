"""Every process runs as a Redis ACL user limited to lookout's keys and channels.

The user is made with the README's line (``~lookout:* &lookout:*``, every
command but the ``@dangerous`` ones).  Before, the worker exited at start-up
with ``NoPermissionError``: kombu listens on its remote-control channel with
PSUBSCRIBE, and Redis checks a PSUBSCRIBE pattern literally against the
user's channel patterns.  Here a scheduler, a worker, a launcher, the monitor,
the CLI, ``lookout dev`` on that Redis, Flower and Celery's remote control all
work as that user, a file becomes a successful run, and Redis's ACL log shows no
refusal but the one the eviction guard expects (``CONFIG GET`` is
``@dangerous``; the guard then trusts the server with a warning).
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from lookout import Settings
from lookout.testing import EmbeddedRedis, Repositories, free_port
from lookout.workers.app import make_celery
from tests.conftest import ROOT, Process, Spawn, process_env, start_ready, wait_for
from tests.locations.work_support import start_launcher, start_worker

LOCATION = "tests.locations.fault_load"
# The README's line, word for word (section "Redis": least privilege).
ACL_LINE = (
    "ACL SETUSER lookout on >lookout-pw resetchannels ~lookout:* &lookout:* "
    "&lookout:celery:/0.celeryev/* +@all -@dangerous"
)
PASSWORD = "lookout-pw"
# The one refusal expected: the eviction guard's CONFIG GET, which it survives.
EXPECTED_REFUSAL = "config|get"


@pytest.fixture
def acl_redis() -> Iterator[tuple[EmbeddedRedis, str]]:
    """A redis-server with the README's ACL user; the user's URL."""
    with EmbeddedRedis() as server:
        # As an operator types it.
        subprocess.run(
            ["redis-cli", "-p", str(server.port), *ACL_LINE.split()], check=True, timeout=10
        )
        yield server, f"redis://lookout:{PASSWORD}@127.0.0.1:{server.port}/0"


def _refusals(server: EmbeddedRedis) -> list[str]:
    admin = redis.Redis.from_url(server.url)
    try:
        entries = admin.acl_log(count=100)
    finally:
        admin.close()
    return [f"{_text(e['reason'])}:{_text(e['object'])}" for e in entries]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _permission_lines(proc: Process) -> list[str]:
    return [
        line
        for line in proc.log_text().splitlines()
        if ("permission" in line.lower() or "NOPERM" in line) and "maxmemory-policy" not in line
    ]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lookout", *args],
        env=env,
        cwd=str(ROOT),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_process_works_as_an_acl_user_limited_to_the_key_and_channel_prefix(
    spawn: Spawn, tmp_path: Path, acl_redis: tuple[EmbeddedRedis, str]
) -> None:
    server, url = acl_redis
    watched = tmp_path / "watched"
    watched.mkdir()
    settings = Settings(redis_url=url, tick_timeout=5.0, inflight_margin=2.0)
    extra = {"FAULT_DIR": str(watched)}
    env = process_env(settings, **extra)
    procs = [
        spawn(["lookout", "scheduler", "-m", LOCATION], env, "scheduler"),
        start_worker(spawn, settings, LOCATION, env=extra),
        start_launcher(spawn, settings, LOCATION, env=extra),
    ]
    port = free_port()
    monitor = start_ready(
        spawn,
        ["lookout", "monitor", "-m", LOCATION, "--port", str(port)],
        env,
        "lookout monitor on",
        "the monitor",
        "monitor",
    )
    procs.append(monitor)
    # Flower listens to Celery's events with the one pattern the line names.
    procs.append(spawn(["lookout", "flower", "--port", str(free_port())], env, "flower"))
    (watched / "a.txt").write_text("one\n")
    storage = Repositories.from_settings(settings)
    try:
        wait_for(
            lambda: storage.metrics.run_counts().get("SUCCESS", 0) == 1,
            60,
            interval=0.3,
            what="the file's run to succeed",
        )
        # The workers' remote control (what Flower's worker pages use) answers.
        app = make_celery(settings)
        try:
            replies = app.control.inspect(timeout=5).ping() or {}
        finally:
            app.close()
        assert len(replies) == 1 and next(iter(replies.values())) == {"ok": "pong"}
    finally:
        storage.close()
    for path in ("/", "/metrics", "/healthz"):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
            assert reply.status == 200, path
    for args in (("queues",), ("runs", "list"), ("sensor", "list", "-m", LOCATION)):
        done = _cli(env, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert "permission" not in (done.stdout + done.stderr).lower(), args

    dev = spawn(
        ["lookout", "dev", "-m", LOCATION, "--port", "0", "--for", "12", "--redis-url", url],
        {k: v for k, v in env.items() if k != "LOOKOUT_REDIS_URL"},
        log_name="dev",
        cwd=tmp_path,
    )
    (watched / "b.txt").write_text("two\n")
    assert dev.wait(90) == 0, dev.log_text()[-3000:]
    assert "UI at http" in dev.log_text()
    assert PASSWORD not in dev.log_text()

    procs.append(dev)
    assert [p.args for p in procs if p is not dev and p.poll() is not None] == []
    assert {p.log_path.name: _permission_lines(p) for p in procs if _permission_lines(p)} == {}
    refused = {entry for entry in _refusals(server) if not entry.endswith(EXPECTED_REFUSAL)}
    assert refused == set()
    storage = Repositories.from_settings(settings)
    try:
        wait_for(
            lambda: storage.metrics.run_counts().get("SUCCESS", 0) == 2,
            60,
            interval=0.3,
            what="the second file's run to succeed",
        )
    finally:
        storage.close()
