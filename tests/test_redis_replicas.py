"""A primary with a replica (``LOOKOUT_REDIS_MIN_REPLICAS``): a failover never yields a second run.

Real redis-servers (a primary and a replica of it), a real scheduler,
worker and launcher.  Without the setting a tick's commit is acknowledged
by the primary alone: a failover to a replica that lacks it forgets the
run keys, and the next tick on the promoted replica accepts them again
while the first runs were already launched.  With it, a commit the replica
does not confirm is a FAILURE tick saying so, and the launchers launch
nothing the replica lacks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from lookout import Settings
from lookout.testing import (
    EmbeddedRedis,
    Repositories,
    TickRecord,
    free_port,
    open_repositories,
    redis_server_binary,
)
from tests.conftest import TEST_HISTORY, Process, Spawn, process_env, wait_for
from tests.locations.work_support import start_launcher, start_worker

LOCATION = "tests.locations.e2e_files"
SENSOR = "file_sensor"
# The wait for the replica, short so that a paused one fails a tick in test time.
WAIT = "0.5"


@pytest.fixture
def primary() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis().start()
    yield server
    server.stop()


@pytest.fixture
def replica(primary: EmbeddedRedis, tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A redis-server replicating ``primary``, returned once its link is up."""
    directory = tmp_path / "replica"
    directory.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        [
            redis_server_binary(),
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)),
            *("--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"),
            *("--replicaof", "127.0.0.1", str(primary.port)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = EmbeddedRedis(port)
    server.process = proc  # stopped with the rest at teardown
    client = redis.Redis(port=port, socket_timeout=2)
    try:
        wait_for(lambda: _link_up(client), 20, interval=0.1, what="the replica's link")
        yield server
    finally:
        client.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)  # a paused replica cannot stop
        proc.kill()
        proc.wait()


def _link_up(client: redis.Redis) -> bool:
    try:
        return client.info("replication").get("master_link_status") == "up"
    except redis.ConnectionError:
        return False


def _stack(spawn: Spawn, settings: Settings, watched: Path, replicas: int) -> list[Process]:
    env = {
        "E2E_DIR": str(watched),
        "LOOKOUT_REDIS_MIN_REPLICAS": str(replicas),
        "LOOKOUT_REDIS_REPLICA_WAIT": WAIT,
    }
    scheduler = spawn(
        ["lookout", "scheduler", "-m", LOCATION], process_env(settings, **env), log_name="scheduler"
    )
    return [
        scheduler,
        start_worker(spawn, settings, LOCATION, env=env),
        start_launcher(spawn, settings, LOCATION, env=env),
    ]


def _drop(directory: Path, names: range) -> None:
    for i in names:
        (directory / f"file-{i:04d}.txt").write_text(f"payload {i}\n")


def _runs_by_key(storage: Repositories) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for run in storage.runs.recent(limit=1000):
        found.setdefault(run.run_key or "", set()).add(run.run_id)
    return found


def _successes(storage: Repositories) -> int:
    return storage.metrics.run_counts().get("SUCCESS", 0)


def _asked_for(storage: Repositories, key: str) -> bool:
    """Whether a committed tick asked for a run with ``key``."""
    return any(
        any(r.get("run_key") == key for r in t.requests) for t in storage.ticks.history(SENSOR, 200)
    )


def _failed_asking(storage: Repositories) -> list[TickRecord]:
    """The FAILURE ticks that asked for file-0000.txt."""
    return [
        t
        for t in storage.ticks.history(SENSOR, 200)
        if t.status == "FAILURE" and any(r.get("run_key") == "file-0000.txt" for r in t.requests)
    ]


def test_a_tick_the_replica_does_not_confirm_fails_and_its_run_waits_for_the_replica(
    primary: EmbeddedRedis, replica: EmbeddedRedis, spawn: Spawn, tmp_path: Path
) -> None:
    settings = Settings(
        redis_url=primary.url, tick_timeout=5.0, inflight_margin=2.0, tick_history=TEST_HISTORY
    )
    storage = open_repositories(settings)
    _stack(spawn, settings, tmp_path, replicas=1)
    wait_for(lambda: bool(storage.ticks.history(SENSOR, 1)), 30, what="a first tick")
    assert replica.process is not None
    os.kill(replica.process.pid, signal.SIGSTOP)  # up, connected, and acknowledging nothing
    _drop(tmp_path, range(1))
    wait_for(lambda: bool(_failed_asking(storage)), 30, what="the file's tick to fail")
    error = _failed_asking(storage)[0].error
    assert error is not None
    assert "commit not confirmed by the Redis replicas: 0 of 1" in error
    # The launcher has read the entry and holds it: no run while the replica lags.
    wait_for(lambda: storage.launches.pending(settings.launch_group) > 0, 10, what="a read")
    assert storage.runs.recent(limit=10) == []

    os.kill(replica.process.pid, signal.SIGCONT)
    wait_for(lambda: _successes(storage) >= 1, 60, interval=0.2, what="the file's run")
    wait_for(lambda: storage.ticks.history(SENSOR, 1)[0].status == "SKIPPED", 10, what="a tick")
    assert {k: len(v) for k, v in _runs_by_key(storage).items()} == {"file-0000.txt": 1}
    storage.close()


def test_a_failover_to_a_replica_without_the_newest_commits_launches_no_key_twice(
    primary: EmbeddedRedis, replica: EmbeddedRedis, spawn: Spawn, tmp_path: Path
) -> None:
    old = Settings(
        redis_url=primary.url, tick_timeout=5.0, inflight_margin=2.0, tick_history=TEST_HISTORY
    )
    on_old = open_repositories(old)
    procs = _stack(spawn, old, tmp_path, replicas=1)
    _drop(tmp_path, range(3))
    wait_for(lambda: _successes(on_old) == 3, 60, interval=0.2, what="3 runs, replicated")

    # The replica is cut off (a partition): what the primary commits from now
    # on, it never receives.  Then the primary dies and the replica is promoted.
    assert replica.process is not None and replica.port is not None
    promoted = redis.Redis(port=replica.port, socket_timeout=2)
    promoted.replicaof("NO", "ONE")
    _drop(tmp_path, range(3, 6))
    wait_for(
        lambda: all(_asked_for(on_old, f"file-{i:04d}.txt") for i in range(3, 6)),
        30,
        what="ticks asking for the new files on the old primary",
    )
    wait_for(lambda: on_old.launches.pending(old.launch_group) > 0, 10, what="a read")
    before = _runs_by_key(on_old)
    on_old.close()
    assert primary.process is not None
    primary.process.kill()  # kill -9
    primary.process.wait()
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    # Every process now on the promoted replica (which has no replica of its own).
    new = Settings(
        redis_url=f"redis://127.0.0.1:{replica.port}/0", tick_timeout=5.0, inflight_margin=2.0
    )
    on_new = open_repositories(new)
    _stack(spawn, new, tmp_path, replicas=0)
    wait_for(lambda: _successes(on_new) >= 6, 60, interval=0.2, what="every file's run")
    wait_for(
        lambda: sum(t.status == "SKIPPED" for t in on_new.ticks.history(SENSOR, 10)) >= 3,
        20,
        what="more ticks on the new primary",
    )
    after = _runs_by_key(on_new)
    both = {key: before.get(key, set()) | after.get(key, set()) for key in before.keys() | after}
    assert {k: len(v) for k, v in both.items()} == {f"file-{i:04d}.txt": 1 for i in range(6)}
    promoted.close()
    on_new.close()


def test_a_launcher_on_a_replica_waits_for_its_promotion_instead_of_dying(
    primary: EmbeddedRedis, replica: EmbeddedRedis, spawn: Spawn, tmp_path: Path
) -> None:
    # Pointed at a replica (a failover in progress), every write is refused
    # as READONLY: a ResponseError, which the launcher used to re-raise and die of.
    assert replica.port is not None
    on_replica = Settings(redis_url=f"redis://127.0.0.1:{replica.port}/0")
    launcher = spawn(
        ["lookout", "launcher", "-m", LOCATION],
        process_env(on_replica, E2E_DIR=str(tmp_path)),
        log_name="launcher",
    )
    wait_for(lambda: "read only replica" in launcher.log_text(), 30, what="a refused write")
    time.sleep(1)
    assert launcher.poll() is None, launcher.log_text()[-3000:]
    promoted = redis.Redis(port=replica.port, socket_timeout=2)
    promoted.replicaof("NO", "ONE")
    promoted.close()
    storage = open_repositories(on_replica)
    wait_for(
        lambda: (
            storage.launches.pending(on_replica.launch_group) == 0
            and launcher.poll() is None
            and bool(storage.client.exists(storage.keys.launch))
        ),
        30,
        what="the launcher's group on the promoted replica",
    )
    assert launcher.poll() is None, launcher.log_text()[-3000:]
    storage.close()
