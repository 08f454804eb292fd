"""Fixtures: a real redis-server per session, flushed between tests, and real processes.

No test here mocks Redis or runs Celery eagerly: the distributed path is only
proven by the distributed path.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis

from lookout import Settings
from lookout.testing import EmbeddedRedis, Repositories, open_repositories
from lookout.workers.app import make_celery

ROOT = Path(__file__).resolve().parent.parent

# The tick records the tests' deployments keep per sensor.
TEST_HISTORY = 1000

# The Dagster docs tests' fixtures (inbox, outbox), shared through a plugin.
pytest_plugins = ["tests.docs_support"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of tests marked ``long`` first, each in its own order.

    ``make test`` hands whole files to its two workers in this order, each to
    the first that is free (``--dist loadfile --no-loadscope-reorder``): the
    longest start first and the short ones fill in after.  Ordered by how
    many tests a file has (xdist's default), a file of one or two tests of
    1-3 minutes went last, and one worker ran it alone at the end (the two
    workers' sums 639 and 744 s in one run).
    """
    long_files = {item.path for item in items if item.get_closest_marker("long")}
    items.sort(key=lambda item: item.path not in long_files)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """One redis-server for the session, on a free loopback port."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    """The session server's URL, flushed before each test that uses it."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture
def settings(redis_url: str) -> Settings:
    """Short timeouts so that failure paths run in test time.

    A long tick history: many tests read every tick a sensor had from it
    (the default keeps 12 records; the retention has tests of its own).
    """
    return Settings(
        redis_url=redis_url, tick_timeout=5.0, inflight_margin=2.0, tick_history=TEST_HISTORY
    )


@pytest.fixture
def storage(settings: Settings) -> Iterator[Repositories]:
    store = open_repositories(settings)
    yield store
    store.close()


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    """A Celery app on the test's Redis, to publish messages as the scheduler and launcher do."""
    celery = make_celery(settings)
    yield celery
    celery.close()


def text(reply: object) -> str:
    """A raw client's reply (bytes) as text, for tests that read Redis under the repositories."""
    assert isinstance(reply, bytes), reply
    return reply.decode()


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a lookout process gets: this interpreter's, plus the test's Redis."""
    env = dict(os.environ)
    env.update(
        LOOKOUT_REDIS_URL=settings.redis_url,
        LOOKOUT_KEY_PREFIX=settings.key_prefix,
        LOOKOUT_TICK_TIMEOUT=str(settings.tick_timeout),
        LOOKOUT_INFLIGHT_MARGIN=str(settings.inflight_margin),
        LOOKOUT_TICK_HISTORY=str(settings.tick_history),
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Process(subprocess.Popen[str]):
    """A process a test started, with the file its output goes to."""

    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


Spawn = Callable[..., Process]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Start ``lookout ARGS...`` (or any argv) as a real process; all are killed at teardown.

    Each process leads its own process group, so a test can kill -9 it by PID
    and teardown can end whatever it started.
    """
    started: list[Process] = []

    def start(
        args: Sequence[str],
        env: dict[str, str],
        log_name: str | None = None,
        cwd: Path | None = None,
    ) -> Process:
        argv = list(args)
        if argv and argv[0] == "lookout":
            argv = [sys.executable, "-m", "lookout", *argv[1:]]
        log = tmp_path / f"{log_name or 'proc'}-{len(started)}.log"
        proc = Process(
            argv,
            env=env,
            cwd=str(cwd or ROOT),
            text=True,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log_path = log
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in started:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for(
    predicate: Callable[[], bool], timeout: float, interval: float = 0.05, what: str = "condition"
) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def start_ready(
    spawn: Spawn, args: Sequence[str], env: dict[str, str], ready: str, what: str, log_name: str
) -> Process:
    """Start a process and return it once its output says ``ready``; fail if it exits."""
    proc = spawn(args, env, log_name=log_name)
    wait_for(lambda: ready in proc.log_text() or proc.poll() is not None, 30, what=what)
    assert proc.poll() is None, proc.log_text()
    return proc
