"""Heartbeats on a real Redis: every process is listed while alive and vanishes when it is not."""

from __future__ import annotations

import os
import signal
import socket
import time

from lookout import Settings
from lookout._process.heartbeat import lookout_version
from lookout.testing import Heartbeat, Repositories
from tests.conftest import Spawn, wait_for
from tests.locations.sched_support import sched_env, start_scheduler


def test_a_heartbeat_lists_the_process_until_it_stops(storage: Repositories) -> None:
    leading = [False]
    beat = Heartbeat(
        storage.processes,
        "scheduler",
        interval=0.1,
        leader=lambda: leading[0],
        details=lambda: {"sensors": "3"},
    )
    assert storage.processes.heartbeats() == []  # nothing written before start()
    with beat:
        [info] = storage.processes.heartbeats()
        assert info.id == beat.id
        assert (info.role, info.host, info.pid) == ("scheduler", socket.gethostname(), os.getpid())
        assert info.version == lookout_version() != ""
        assert info.leader is False and info.details == {"sensors": "3"}
        first_seen = info.last_seen
        leading[0] = True
        wait_for(
            lambda: storage.processes.heartbeats()[0].leader is True, 2, what="the leader flag"
        )
        assert storage.processes.heartbeats()[0].last_seen > first_seen
        assert storage.processes.heartbeats()[0].started_at == info.started_at
        ttl = storage.client.pttl(storage.keys.process(beat.id))
        assert 0 < ttl <= 300  # three intervals
    assert storage.processes.heartbeats() == []
    assert storage.client.zcard(storage.keys.processes) == 0


def test_heartbeats_of_several_processes_are_listed_oldest_first(storage: Repositories) -> None:
    with Heartbeat(storage.processes, "worker", interval=1) as worker:
        time.sleep(0.01)
        with Heartbeat(storage.processes, "launcher", interval=1) as launcher:
            assert [p.id for p in storage.processes.heartbeats()] == [worker.id, launcher.id]
            assert [p.leader for p in storage.processes.heartbeats()] == [None, None]
        assert [p.role for p in storage.processes.heartbeats()] == ["worker"]


def test_a_killed_process_disappears_when_its_heartbeat_expires(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    proc = start_scheduler(spawn, sched_env(settings, LOOKOUT_HEARTBEAT_INTERVAL="0.3"))
    wait_for(lambda: len(storage.processes.heartbeats()) == 1, 5, what="the scheduler's heartbeat")
    [info] = storage.processes.heartbeats()
    assert info.pid == proc.pid and info.role == "scheduler"
    wait_for(lambda: storage.processes.heartbeats()[0].leader is True, 5, what="it to lead")
    os.kill(proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: storage.processes.heartbeats() == [], 5, what="the heartbeat to expire")
    assert time.monotonic() - killed < 1.5  # three 0.3 s intervals, plus polling
    # The index entry of the dead process is dropped when it is next read.
    assert storage.client.zcard(storage.keys.processes) == 0
