"""A stalled Redis (SIGSTOP) ends in timeouts that every process handles, not in a hang.

Without a socket timeout a client waits for a reply for as long as the
server is stopped: a process stalls with it, silently.  With
``LOOKOUT_REDIS_SOCKET_TIMEOUT`` every wait ends; each process says so and
carries on once the server resumes (SIGCONT).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lookout import DefaultSensorStatus
from lookout._base.errors import StorageError
from lookout._core.settings import Settings
from lookout._tools.redis_server import EmbeddedRedis
from lookout.testing import Repositories, load_definitions
from lookout.workers.tasks import WorkerTasks
from tests.conftest import TEST_HISTORY, Process, Spawn, process_env, wait_for
from tests.locations.work_support import claim_ticks, log_text, start_launcher, start_worker

LOCATION = "tests.locations.fault_load"
TIMEOUT = 1.5
STALL = 8.0


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    """A server of this test's own: stopping it must not stall the session's."""
    with EmbeddedRedis() as server:
        yield server


class Stalled:
    """The server stopped (SIGSTOP) inside the block, resumed (SIGCONT) on the way out."""

    def __init__(self, server: EmbeddedRedis) -> None:
        assert server.process is not None
        self.pid = server.process.pid

    def __enter__(self) -> Stalled:
        os.kill(self.pid, signal.SIGSTOP)
        return self

    def __exit__(self, *exc: object) -> None:
        os.kill(self.pid, signal.SIGCONT)


def timing_out(server: EmbeddedRedis) -> Settings:
    """Settings whose every Redis call gives up after ``TIMEOUT`` on a stalled server."""
    return Settings(redis_url=server.url, redis_socket_timeout=TIMEOUT, tick_history=TEST_HISTORY)


def test_a_call_on_a_stalled_redis_fails_after_the_socket_timeout(
    own_redis: EmbeddedRedis,
) -> None:
    settings = timing_out(own_redis)
    storage = Repositories.from_settings(settings)
    storage.server.ping()  # connected before the stall
    outcome: list[BaseException | None] = []

    def ping() -> None:
        try:
            storage.server.ping()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    with Stalled(own_redis):
        started = time.monotonic()
        caller = threading.Thread(target=ping, daemon=True)
        caller.start()
        caller.join(STALL)
        waited = time.monotonic() - started
    caller.join(5)
    assert outcome, "the call was still waiting when the server resumed"
    assert isinstance(outcome[0], StorageError) and "Timeout" in str(outcome[0])
    assert waited < TIMEOUT * 3
    storage.server.ping()  # and the same client works again after SIGCONT
    storage.client.close()


def test_a_tick_message_cut_off_by_a_stalled_redis_gives_its_ticks_back_once_it_answers(
    own_redis: EmbeddedRedis,
) -> None:
    # The tick task's message was acknowledged when the pool process took it:
    # nothing brings its ticks back but the process itself, and not only
    # after their leases lapse (inflight_ttl, 90 s here).
    settings = timing_out(own_redis)
    storage = Repositories.from_settings(settings)
    tasks = WorkerTasks(load_definitions(module="tests.locations.work_basic"), settings)
    storage.sensors.set_status("counter", DefaultSensorStatus.RUNNING, due_at=time.time())
    [tick] = claim_ticks(storage, settings, ["counter"])
    with Stalled(own_redis):
        outcome = tasks.tick_batch("job-stalled", [[tick.to_wire()]], {})
    assert outcome["committed"] == 0 and outcome["owed"] == 1
    wait_for(
        lambda: storage.sensors.state("counter").inflight is None,
        3 * settings.lease_renew,
        interval=0.1,
        what="the tick given back once Redis answered",
    )
    # Given back, not failed: no record, and due again at once.
    assert storage.ticks.history("counter") == []
    due = storage.client.zscore(storage.keys.due, "counter")
    assert due is not None and due <= time.time()
    storage.client.close()


def _said(proc: Process, *words: str) -> bool:
    return any(all(w in line for w in words) for line in log_text(proc).splitlines())


def test_every_process_times_out_on_a_stalled_redis_and_carries_on_after_it(
    spawn: Spawn, own_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    settings = Settings(
        redis_url=own_redis.url, tick_timeout=5.0, inflight_margin=2.0, redis_socket_timeout=1.5
    )
    storage = Repositories.from_settings(settings)
    env = {"FAULT_DIR": str(tmp_path), "LOOKOUT_REDIS_SOCKET_TIMEOUT": str(TIMEOUT)}
    scheduler = spawn(
        ["lookout", "scheduler", "-m", LOCATION], process_env(settings, **env), "scheduler"
    )
    worker = start_worker(spawn, settings, LOCATION, concurrency=1, env=env)
    launcher = start_launcher(spawn, settings, LOCATION, env=env)
    wait_for(lambda: bool(storage.ticks.history("busy_0", 1)), 30, what="a first tick")

    with Stalled(own_redis):
        wait_for(
            lambda: (
                _said(scheduler, "Timeout")
                and _said(launcher, "unavailable", "Timeout")
                and _said(worker, "heartbeat", "not written", "Timeout")
            ),
            STALL,
            interval=0.2,
            what="each process to report the stalled Redis",
        )

    # Resumed: the whole pipeline works again, from a new file to its run.
    (tmp_path / "after-the-stall.txt").write_text("resumed\n")
    wait_for(
        lambda: storage.metrics.run_counts().get("SUCCESS", 0) == 1,
        60,
        interval=0.5,
        what="the run of the file dropped after the stall",
    )
    assert all(p.poll() is None for p in (scheduler, worker, launcher))
    storage.client.close()
