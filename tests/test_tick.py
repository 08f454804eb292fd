"""One tick end to end against a real redis-server: evaluate, dedupe, commit atomically."""

from __future__ import annotations

import sys
import time
from collections.abc import MutableMapping
from dataclasses import replace

import pytest

from lookout import Settings
from lookout.testing import (
    Repositories,
    TickInFlightError,
    TickRunner,
    TickStatus,
    launch_requests,
    load_definitions,
    tick_runner,
)
from tests.conftest import Spawn, process_env

LOCATION = "tests.locations.core_sensors"


@pytest.fixture
def runner(storage: Repositories, settings: Settings) -> TickRunner:
    return tick_runner(load_definitions(module=LOCATION), storage, settings)


@pytest.fixture
def env_var(monkeypatch: pytest.MonkeyPatch) -> MutableMapping[str, str]:
    """Environment variables the test sensors read; restored after the test."""

    class _Env(dict[str, str]):
        def __setitem__(self, key: str, value: str) -> None:
            monkeypatch.setenv(key, value)

    return _Env()


def test_nested_cursor_round_trips_through_msgpack(runner: TickRunner) -> None:
    for _ in range(3):
        record = runner.tick("nested_cursor")
        assert record is not None and record.status == "SKIPPED"
    cursor = runner.sensors.state("nested_cursor").cursor
    from lookout.testing import decode_value

    value = decode_value(cursor or b"")
    assert value["n"] == 3
    assert value["meta"] == {"bytes": b"\x00\xff", "f": 1.5}
    assert value["history"][-1] == {"tick": 3, "unicode": "é✓", "none": None}
    assert record is not None and record.skip_reason == "tick 3"


def test_same_run_key_launches_once_per_sensor_but_once_for_each_sensor(
    runner: TickRunner, env_var: MutableMapping[str, str]
) -> None:
    env_var["CORE_KEYS"] = "k1,k2"
    first = runner.tick("keyed_a")
    again = runner.tick("keyed_a")
    other = runner.tick("keyed_b")
    assert first is not None and first.status == "SUCCESS"
    assert len(first.run_request_ids) == 2
    assert again is not None and again.run_request_ids == []
    assert again.dropped_run_keys == ["k1", "k2"]
    stored = runner.ticks.history("keyed_a", 1)[0]
    assert stored.status == TickStatus.SKIPPED.value and stored.dropped_run_keys == ["k1", "k2"]
    assert other is not None and len(other.run_request_ids) == 2
    launched = [(r.sensor, r.run_key) for r in launch_requests(runner)]
    assert sorted(launched) == [
        ("keyed_a", "k1"),
        ("keyed_a", "k2"),
        ("keyed_b", "k1"),
        ("keyed_b", "k2"),
    ]


def test_two_processes_ticking_one_sensor_launch_each_run_key_once(
    settings: Settings, storage: Repositories, spawn: Spawn
) -> None:
    keys = ",".join(f"key{i}" for i in range(40))
    # A history long enough to hold every commit of both racers.
    env = process_env(settings, CORE_KEYS=keys, LOOKOUT_TICK_HISTORY="100")
    racers = [
        spawn(
            [sys.executable, "-m", "tests.locations.core_racer", "keyed_a", "25"], env, f"racer{i}"
        )
        for i in range(2)
    ]
    for proc in racers:
        assert proc.wait(90) == 0
        assert "committed 25" in proc.log_text()
    launched = [r.run_key or "" for _, r in storage.launches.requests(count=10_000)]
    assert sorted(launched) == sorted(keys.split(","))
    assert len(storage.ticks.history("keyed_a", 100)) == 50


def test_commit_of_the_same_tick_twice_changes_nothing_the_second_time(
    runner: TickRunner, storage: Repositories
) -> None:
    storage.ticks.claim("partitioned", "tick-1", 1e6)
    assert storage.ticks.begin([("partitioned", "tick-1")], "me", 1e6) == [""]
    state = storage.sensors.state("partitioned")
    sensor = runner.definitions.get_sensor("partitioned")
    commit = runner.evaluate(sensor, state, tick_id="tick-1", due_at=None, holder="me")
    first = storage.ticks.commit(commit)
    assert first is not None
    # Sent again (its reply was lost): answered as committed, nothing more written.
    assert storage.ticks.commit(commit) == first
    # The same tick committed by another holder (a second delivery) is refused.
    assert storage.ticks.commit(replace(commit, holder="someone-else")) is None
    assert (
        storage.ticks.commit(replace(commit, record=replace(commit.record, tick_id="tick-2")))
        is None
    )
    assert len(storage.launches.requests()) == 1
    assert len(storage.ticks.history("partitioned")) == 1


def test_launched_runs_carry_dagster_tags(runner: TickRunner) -> None:
    runner.tick("partitioned")
    [request] = launch_requests(runner)
    assert request.tags == {
        "team": "data",
        "dagster/sensor_name": "partitioned",
        "dagster/run_key": "p1",
        "dagster/partition": "2024-05-01",
    }
    assert request.partition_key == "2024-05-01" and request.job_name == "work"


def test_raising_sensor_records_failure_with_traceback_and_keeps_cursor(
    runner: TickRunner, env_var: MutableMapping[str, str]
) -> None:
    first = runner.tick("flaky")
    assert first is not None and first.status == "SUCCESS"
    cursor = runner.sensors.state("flaky").cursor
    env_var["CORE_FAIL"] = "1"
    record = runner.tick("flaky")
    assert record is not None and record.status == "FAILURE"
    assert record.error == "RuntimeError: the upstream API is down"
    assert record.traceback is not None and "core_sensors.py" in record.traceback
    assert runner.sensors.state("flaky").cursor == cursor
    assert len(launch_requests(runner)) == 1


def test_sensor_past_its_timeout_records_failure(
    storage: Repositories, settings: Settings, env_var: MutableMapping[str, str]
) -> None:
    env_var["CORE_SLEEP"] = "30"
    quick = tick_runner(
        load_definitions(module=LOCATION), storage, replace(settings, tick_timeout=0.3)
    )
    record = quick.tick("sleepy")
    assert record is not None and record.status == "FAILURE"
    assert "timed out after 0.3 s" in (record.error or "")
    assert record.duration is not None and record.duration < 5


def test_skip_reason_records_skipped_with_the_message(runner: TickRunner) -> None:
    record = runner.tick("skipper")
    assert record is not None
    assert (record.status, record.skip_reason) == ("SKIPPED", "nothing new under the sun")
    assert runner.ticks.history("skipper")[0].skip_reason == "nothing new under the sun"


def test_a_second_tick_is_refused_while_one_is_in_flight(runner: TickRunner) -> None:
    runner.ticks.claim("skipper", "held", 1e6)
    with pytest.raises(TickInFlightError, match="held"):
        runner.tick("skipper")


def test_preview_changes_nothing_in_redis(
    runner: TickRunner, storage: Repositories, env_var: MutableMapping[str, str]
) -> None:
    env_var["CORE_KEYS"] = "k1,k2"
    runner.tick("keyed_a")
    before = {k: storage.client.dump(k) for k in storage.client.keys("*")}
    env_var["CORE_KEYS"] = "k2,k3"
    preview = runner.preview("keyed_a")
    assert preview.run_request_ids == [f"{preview.tick_id}-1"]
    assert preview.dropped_run_keys == ["k2"]
    after = {k: storage.client.dump(k) for k in storage.client.keys("*")}
    assert after == before


def test_tick_history_is_bounded(storage: Repositories, settings: Settings) -> None:
    small = Repositories.on(storage.client, storage.keys, history_size=5)
    runner = tick_runner(load_definitions(module=LOCATION), small, settings)
    for _ in range(8):
        runner.tick("nested_cursor")  # a new skip reason each tick: none coalesce
    kept = small.ticks.history("nested_cursor", 100)
    assert [t.skip_reason for t in kept] == [f"tick {n}" for n in range(8, 3, -1)]


def test_a_tick_whose_every_run_key_was_used_reads_skipped_as_returned_and_stored(
    runner: TickRunner, env_var: MutableMapping[str, str]
) -> None:
    env_var["CORE_KEYS"] = "k1"
    runner.tick("keyed_a")
    again = runner.tick("keyed_a")
    stored = runner.ticks.history("keyed_a", 1)[0]
    assert again is not None
    assert (again.status, again.skip_reason) == (stored.status, stored.skip_reason)
    assert again.status == "SKIPPED" and "already used" in (again.skip_reason or "")


def test_a_sensor_that_swallows_exceptions_still_times_out(
    storage: Repositories, settings: Settings
) -> None:
    quick = tick_runner(
        load_definitions(module=LOCATION), storage, replace(settings, tick_timeout=0.3)
    )
    started = time.monotonic()
    record = quick.tick("swallower")
    assert record is not None and record.status == "FAILURE"
    assert "timed out after 0.3 s" in (record.error or "")
    assert time.monotonic() - started < 3


def test_a_sensor_that_exits_fails_its_tick_and_not_the_process(runner: TickRunner) -> None:
    record = runner.tick("exiter")
    assert record is not None and record.status == "FAILURE"
    assert record.error == "SystemExit: 3"


def test_a_sensor_that_ignores_even_the_timeout_ends_its_process(
    settings: Settings, spawn: Spawn
) -> None:
    env = process_env(settings, LOOKOUT_TICK_TIMEOUT="0.3", LOOKOUT_INFLIGHT_MARGIN="2")
    proc = spawn(["lookout", "sensor", "tick", "stubborn", "-m", LOCATION], env, "stubborn")
    assert proc.wait(20) == 70  # ended about 1 s (margin / 2) past its deadline
    assert "ignored its timeout" in proc.log_text()


def test_a_sensor_redefined_under_its_name_ticks_by_its_new_definition(
    storage: Repositories, settings: Settings
) -> None:
    # The runner keeps what a sensor's ticks share (its interval, its logger)
    # from its first tick: another definition of that name must not tick by it.
    from lookout import SkipReason, sensor

    runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
    state = storage.sensors.state("skipper")
    ticks = []
    for interval in (30, 300):
        redefined = sensor(name="skipper", minimum_interval_seconds=interval)(
            lambda: SkipReason("quiet")
        )
        commit = runner.evaluate(redefined, state, tick_id=f"t-{interval}", due_at=None)
        assert commit.next_due is not None
        ticks.append(commit.next_due - commit.record.started_at)
    assert ticks == [pytest.approx(30, abs=1), pytest.approx(300, abs=1)]
