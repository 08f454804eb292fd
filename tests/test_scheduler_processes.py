"""The scheduler as real processes: ``lookout scheduler`` replicas, a real worker, kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from lookout import Settings
from lookout.scheduler import trigger_sensor
from lookout.testing import ProcessInfo, Repositories, TriggerOutcome
from tests.conftest import Spawn, wait_for
from tests.locations.sched_support import (
    assert_interval_kept,
    assert_never_overlapping,
    evaluations,
    log_text,
    sched_env,
    start_scheduler,
    start_worker,
)


def schedulers_alive(storage: Repositories) -> list[ProcessInfo]:
    return [p for p in storage.processes.heartbeats() if p.role == "scheduler"]


def test_running_sensors_tick_at_their_interval_and_a_slow_one_is_pushed_back(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    # One tick per message: a worker commits a message's ticks together, so a
    # slow sensor would hold back the fleet ticks that shared its message.
    env = sched_env(
        settings,
        SCHED_FLEET="2",
        SCHED_SLOW_EVAL="1.6",
        SCHED_PUSHED_EVAL="0.01",
        LOOKOUT_TICK_BATCH_SIZE="1",
    )
    start_worker(spawn, env, concurrency=3)
    scheduler = start_scheduler(spawn, env)
    wait_for(lambda: len(evaluations(storage, "slow")) >= 3, 20, what="3 slow evaluations")
    time.sleep(0.5)
    scheduler.send_signal(signal.SIGTERM)
    assert scheduler.wait(10) == 0, log_text(scheduler)
    assert "stopped:" in log_text(scheduler)
    assert storage.leader.token() is None  # released on a clean stop
    assert schedulers_alive(storage) == []  # its heartbeat went with it
    for name in ("fleet_0", "fleet_1"):
        evals = evaluations(storage, name)
        assert len(evals) >= 3
        assert_never_overlapping(evals, name)
        gaps = assert_interval_kept(storage, name, 1.0)
        assert max(gaps) < 1.5, f"{name} ticked late: {gaps}"
    # Its 1.6 s evaluations push the 1 s interval back: each starts when the last ended.
    slow = evaluations(storage, "slow")
    assert_never_overlapping(slow, "slow")
    assert all(g >= 1.6 for g in assert_interval_kept(storage, "slow", 1.0))
    # STOPPED by default: never ticked.
    assert evaluations(storage, "pushed") == []
    assert storage.ticks.history("pushed") == []


def test_only_one_replica_leads_and_the_standby_takes_over_after_a_kill_9(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    fleet = [f"fleet_{i}" for i in range(8)]
    env = sched_env(settings, SCHED_FLEET=str(len(fleet)), SCHED_FLEET_EVAL="0.3")
    start_worker(spawn, env, concurrency=4)
    first = start_scheduler(spawn, env)
    second = start_scheduler(spawn, env)
    wait_for(lambda: len(schedulers_alive(storage)) == 2, 10, what="two scheduler heartbeats")
    wait_for(lambda: all(len(evaluations(storage, n)) >= 2 for n in fleet), 20, what="ticks")
    alive = schedulers_alive(storage)
    leaders = [p for p in alive if p.leader]
    assert len(leaders) == 1, alive
    by_pid = {first.pid: first, second.pid: second}
    leader = by_pid[leaders[0].pid]
    standby = second if leader is first else first
    assert "is now the leader" in log_text(leader)
    assert "is now the leader" not in log_text(standby)

    os.kill(leader.pid, signal.SIGKILL)
    killed_at = time.time()
    leader.wait(5)

    def republished() -> bool:
        # The dead leader had at most one tick in flight per sensor: a second
        # evaluation that starts after the kill was published by the standby.
        return any(
            sum(1 for s, _, _ in evaluations(storage, n) if s > killed_at) >= 2 for n in fleet
        )

    wait_for(republished, 10, interval=0.05, what="the standby to publish ticks")
    took_over = time.time() - killed_at
    assert "is now the leader" in log_text(standby)
    wait_for(
        lambda: [p.pid for p in schedulers_alive(storage)] == [standby.pid],
        10,
        what="the dead leader's heartbeat to expire",
    )
    assert schedulers_alive(storage)[0].leader is True
    time.sleep(1.5)
    for name in fleet:
        assert_never_overlapping(evaluations(storage, name), name)
        assert_interval_kept(storage, name, 1.0)
    print(f"standby published {took_over:.2f} s after the leader's kill -9")


def test_trigger_gives_an_immediate_tick_but_never_two_at_once(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    # The evaluation (within the 5 s timeout) outlasts a CLI start-up, so the
    # second trigger lands while the first tick runs; the leader sleeps for
    # 10 s, so a tick within 4 s of the trigger was woken by it.
    env = sched_env(settings, SCHED_PUSHED_EVAL="3.5", LOOKOUT_SCHEDULER_MAX_SLEEP="10")
    start_worker(spawn, env, concurrency=2)
    start_scheduler(spawn, env)
    wait_for(lambda: storage.leader.token() is not None, 10, what="a leader")
    time.sleep(0.5)  # the leader now sleeps up to 10 s: only the trigger wakes it
    assert evaluations(storage, "pushed") == []

    def trigger() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "lookout", "sensor", "trigger", "pushed"],
            env=env,
            capture_output=True,
            check=False,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    asked = time.time()
    assert "is due now" in trigger()
    wait_for(lambda: storage.sensors.state("pushed").inflight is not None, 2, what="in flight")
    # While it runs, more triggers coalesce into one tick after it.
    assert "in flight; one more tick follows it" in trigger()
    for _ in range(2):
        assert trigger_sensor(storage.schedule, "pushed").outcome is TriggerOutcome.IN_FLIGHT
    wait_for(lambda: len(evaluations(storage, "pushed")) == 2, 20, what="the follow-up tick")
    started = evaluations(storage, "pushed")[0][0]
    # asked includes the CLI's own start-up; the scheduler itself was asleep.
    assert started - asked < 4.0, f"the triggered tick began {started - asked:.2f} s after"
    time.sleep(6)  # STOPPED: nothing more comes
    evals = evaluations(storage, "pushed")
    assert len(evals) == 2
    assert_never_overlapping(evals, "pushed")
    assert_interval_kept(storage, "pushed", 1.0)
    assert len(storage.ticks.history("pushed")) == 2


def test_unknown_sensor_trigger_is_an_error(settings: Settings, storage: Repositories) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lookout", "sensor", "trigger", "nope"],
        env=sched_env(settings),
        capture_output=True,
        check=False,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "no sensor named 'nope'" in done.stderr


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-random"])
def test_a_redis_that_may_evict_any_key_is_refused_at_start(
    spawn: Spawn, settings: Settings, storage: Repositories, policy: str
) -> None:
    storage.client.config_set("maxmemory-policy", policy)
    try:
        proc = spawn(
            ["lookout", "scheduler", "-m", "tests.locations.sched_recorder"],
            sched_env(settings),
            log_name="scheduler",
        )
        assert proc.wait(30) == 1
    finally:
        storage.client.config_set("maxmemory-policy", "noeviction")
    out = log_text(proc)
    assert f"maxmemory-policy is {policy}" in out and "noeviction" in out
    assert storage.leader.token() is None
