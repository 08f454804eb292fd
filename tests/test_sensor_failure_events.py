"""Sensor tick failures are told on the event stream, once each, and a sensor can react.

A FAILURE tick, whether its commit says so, the sweep expires its lease or
its process died, appends one SENSOR_TICK_FAILURE event; a
``sensor_failure_sensor`` (a lookout extension) is called once per such
event of the sensors it monitors and may launch runs.
"""

from __future__ import annotations

import time
from dataclasses import replace

import lookout as dg
from lookout import Settings
from lookout._core.storage.ticks import Death
from lookout.testing import (
    Repositories,
    RunEvent,
    TickRunner,
    load_definitions,
    sync_definitions,
    tick_runner,
)
from tests.conftest import Spawn, start_ready, wait_for
from tests.locations.sched_support import sched_env
from tests.locations.work_support import all_events, start_launcher, start_worker

LOCATION = "tests.locations.failure_watch"


def failures(storage: Repositories) -> list[RunEvent]:
    return [e for e in all_events(storage) if e.kind == "SENSOR_TICK_FAILURE"]


def runner_on(storage: Repositories, settings: Settings) -> TickRunner:
    return tick_runner(load_definitions(module=LOCATION), storage, settings)


def test_a_failed_tick_appends_one_event_naming_the_sensor_tick_and_error(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_on(storage, settings)
    record = runner.tick("brittle")
    assert record is not None and record.status == "FAILURE"
    [event] = failures(storage)
    assert (event.sensor, event.tick_id) == ("brittle", record.tick_id)
    assert event.message == record.error and "brittle broke" in (event.message or "")
    assert event.timestamp >= record.started_at


def test_a_commit_sent_again_tells_its_failure_once(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_on(storage, settings)
    tick_id = "resent-tick"
    storage.ticks.claim("brittle", tick_id, 30.0, time.time())
    assert storage.ticks.begin([("brittle", tick_id)], "me", 30.0) == [""]
    state = storage.sensors.state("brittle")
    commit = runner.evaluate(runner.instigator("brittle"), state, tick_id=tick_id, due_at=None)
    commit = replace(commit, holder="me")
    assert storage.ticks.commit(commit) is not None
    assert storage.ticks.commit(commit) is not None  # its reply lost: sent again
    assert [e.tick_id for e in failures(storage)] == [tick_id]


def test_a_successful_tick_tells_nothing(storage: Repositories, settings: Settings) -> None:
    record = runner_on(storage, settings).tick("watchdog")
    assert record is not None and record.status == "SKIPPED"
    assert failures(storage) == []


def test_a_lapsed_lease_and_a_dead_process_tell_their_failures_too(
    storage: Repositories, settings: Settings
) -> None:
    storage.ticks.claim("brittle", "lost", 0.2, time.time())
    assert storage.ticks.begin([("brittle", "lost")], "gone", 0.2) == [""]
    time.sleep(0.4)
    assert storage.ticks.claim("brittle", "next", 30.0, time.time()) == "next"  # sweeps "lost"
    storage.ticks.release("brittle", "next", "")

    storage.ticks.claim("unwatched", "killed", 30.0, time.time())
    assert storage.ticks.begin([("unwatched", "killed")], "pid-9", 30.0) == [""]
    death = Death("killed by its hard timeout", by_chance=False, redelivery_ttl=30.0)
    storage.ticks.abandon([("unwatched", "killed")], "pid-9", death, time.time())

    told = failures(storage)
    assert [(e.sensor, e.tick_id) for e in told] == [("brittle", "lost"), ("unwatched", "killed")]
    assert "tick lost" in (told[0].message or "")
    assert "killed by its hard timeout" in (told[1].message or "")
    assert [t.status for t in storage.ticks.history("brittle")] == ["FAILURE"]


def test_a_failure_sensor_reacts_once_per_failure_of_the_sensors_it_monitors(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_on(storage, settings)
    first = runner.tick("watchdog")  # starts at the newest event
    assert first is not None and first.run_request_ids == []
    failed = [runner.tick("brittle") for _ in range(2)]
    runner.tick("unwatched")  # not monitored
    seen = runner.tick("watchdog")
    assert seen is not None
    assert [r["run_key"] for r in seen.requests] == [f.tick_id for f in failed if f]
    again = runner.tick("watchdog")
    assert again is not None and again.run_request_ids == []


def test_a_failure_sensor_can_be_called_as_a_plain_function() -> None:
    defs = load_definitions(module=LOCATION)
    watchdog = defs.get_sensor("watchdog")
    context = dg.build_sensor_failure_context(
        "brittle", "RuntimeError: brittle broke", tick_id="t9"
    )
    request = watchdog(context)
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == "t9" and request.tags["failed_sensor"] == "brittle"


def test_a_failure_sensor_on_real_processes_launches_one_run_per_failed_tick(
    spawn: Spawn, storage: Repositories, settings: Settings
) -> None:
    env = sched_env(settings)
    defs = load_definitions(module=LOCATION)
    sync_definitions(defs, storage.sensors)
    start_ready(
        spawn,
        ["lookout", "worker", "-m", LOCATION, "-c", "2", "-Q", "ticks"],
        env,
        " ready.",
        "the tick worker to be ready",
        "worker",
    )
    start_worker(spawn, settings, LOCATION, queues=settings.run_queue)
    start_launcher(spawn, settings, LOCATION)
    start_ready(
        spawn,
        ["lookout", "scheduler", "-m", LOCATION],
        env,
        "started with",
        "the scheduler to start",
        "scheduler",
    )
    wait_for(lambda: bool(storage.ticks.history("watchdog", 1)), 30, what="the watchdog's tick")
    storage.sensors.set_status("brittle", dg.DefaultSensorStatus.RUNNING, time.time())
    wait_for(lambda: len(failures(storage)) >= 3, 30, what="three failed ticks of brittle")
    storage.sensors.set_status("brittle", dg.DefaultSensorStatus.STOPPED, time.time())
    wait_for(lambda: storage.ticks.inflight_tick("brittle") is None, 30, what="brittle to stop")
    failed = [e.tick_id or "" for e in failures(storage)]
    assert all(e.sensor == "brittle" for e in failures(storage))

    def paged() -> list[str]:
        return [r.run_key or "" for r in storage.runs.recent(sensor="watchdog", limit=100)]

    wait_for(lambda: len(paged()) >= len(failed), 30, what="one page per failure")
    time.sleep(2)  # a few more watchdog ticks: nothing more
    assert sorted(paged()) == sorted(failed)
    runs = storage.runs.recent(sensor="watchdog", limit=100)
    assert {r.tags["failed_sensor"] for r in runs} == {"brittle"}
    assert all("brittle broke" in r.tags["error"] for r in runs)
