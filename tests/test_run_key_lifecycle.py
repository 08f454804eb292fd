"""Run keys with a lifecycle (lookout extensions): run again after a failed run, retention, look-up.

The ticks commit through the real commit script on a real Redis; the runs
the keys point to are moved as executors move them (``RunStore``), and the
acceptance test runs them on a real launcher and worker.
"""

from __future__ import annotations

import time

import pytest

import lookout as dg
from lookout import Settings
from lookout._base.wire import launch_run_id
from lookout.testing import (
    Repositories,
    StoredRun,
    TickRunner,
    encode_value,
    load_definitions,
    tick_runner,
)
from lookout.workers.retries import retry_record
from lookout.workers.runs import run_id_for, status_event
from tests.conftest import Spawn, wait_for
from tests.locations.work_support import start_launcher, start_worker

LOCATION = "tests.locations.run_key_lifecycle"


@pytest.fixture
def runner(storage: Repositories, settings: Settings) -> TickRunner:
    return tick_runner(load_definitions(module=LOCATION), storage, settings)


def _launched(runner: TickRunner, sensor: str) -> list[str]:
    """One tick of ``sensor``: the run ids it launched."""
    record = runner.tick(sensor)
    assert record is not None and record.error is None, record
    return [run_id_for(r) for r in record.run_request_ids]


def _move(storage: Repositories, run_id: str, *moves: str, will_retry: bool = False) -> StoredRun:
    """Create the run ``run_id`` and move it through ``moves`` as its executor would."""
    now = time.time()
    record = StoredRun(run_id, "flaky_job", "QUEUED", now, sensor="again")
    storage.runs.create([(record, status_event(record, "QUEUED", now))])
    if "STARTED" in moves:
        storage.runs.start(run_id, "owner", now, 30.0, status_event(record, "STARTED", now))
    before = "STARTED" if "STARTED" in moves else "QUEUED"
    for after in moves:
        if after != "STARTED":
            storage.runs.finish(
                run_id,
                (before, after),
                now,
                status_event(record, after, now, "boom"),
                error="boom",
                will_retry=will_retry if after == "FAILURE" else None,
            )
    found = storage.runs.get(run_id)
    assert found is not None
    return found


def test_a_key_runs_again_once_after_its_run_failed_and_never_while_one_is_queued_or_running(
    runner: TickRunner, storage: Repositories
) -> None:
    [first] = _launched(runner, "again")
    assert _launched(runner, "again") == []  # its run is not even created yet
    _move(storage, first)  # QUEUED
    assert _launched(runner, "again") == []
    storage.runs.start(
        first, "owner", time.time(), 30.0, status_event(_get(storage, first), "STARTED", 0)
    )
    assert _launched(runner, "again") == []
    _finish(storage, first, "FAILURE")

    [second] = _launched(runner, "again")
    assert second != first
    # The one failure gave one rerun: the key now points to the new run.
    assert _launched(runner, "again") == []
    assert storage.client.hget(storage.keys.run_keys("again"), "nightly") == second.encode()


def _get(storage: Repositories, run_id: str) -> StoredRun:
    found = storage.runs.get(run_id)
    assert found is not None
    return found


def _finish(storage: Repositories, run_id: str, status: str, will_retry: bool = False) -> None:
    record = _get(storage, run_id)
    storage.runs.finish(
        run_id,
        (record.status, status),
        time.time(),
        status_event(record, status, time.time(), "boom"),
        error="boom",
        will_retry=will_retry if status == "FAILURE" else None,
    )


def test_a_key_whose_run_succeeded_or_was_canceled_is_never_taken_again(
    runner: TickRunner, storage: Repositories
) -> None:
    [first] = _launched(runner, "again")
    _move(storage, first, "STARTED", "SUCCESS")
    assert _launched(runner, "again") == []
    storage.sensors.reset_run_keys("again")
    [canceled] = _launched(runner, "again")
    _move(storage, canceled, "CANCELED")
    assert _launched(runner, "again") == []


def test_without_the_option_a_failed_runs_key_stays_used_as_in_dagster(
    runner: TickRunner, storage: Repositories
) -> None:
    [first] = _launched(runner, "once")
    _move(storage, first, "STARTED", "FAILURE")
    assert _launched(runner, "once") == []
    # Dagster's value: the key is marked used, no run is named, no times kept.
    assert storage.client.hget(storage.keys.run_keys("once"), "nightly") == b"1"
    assert not storage.client.exists(storage.keys.run_key_times("once"))


def test_a_requests_own_flag_wins_over_its_sensors_option(
    runner: TickRunner, storage: Repositories
) -> None:
    for name, reruns in (("flagged", True), ("unflagged", False)):
        [first] = _launched(runner, name)
        _move(storage, first, "STARTED", "FAILURE")
        assert bool(_launched(runner, name)) is reruns, name


def test_a_failed_run_that_will_be_retried_keeps_its_key_until_its_last_retry_failed(
    runner: TickRunner, storage: Repositories
) -> None:
    [first] = _launched(runner, "again")
    failed = _move(storage, first, "STARTED", "FAILURE", will_retry=True)
    assert _launched(runner, "again") == []  # its retry is not created yet
    child = retry_record(failed, time.time())
    storage.runs.retry([(first, child, status_event(child, "QUEUED", child.created_at))])
    assert _launched(runner, "again") == []  # its retry is queued
    storage.runs.start(child.run_id, "owner", time.time(), 30.0, status_event(child, "STARTED", 0))
    _finish(storage, child.run_id, "FAILURE", will_retry=False)
    assert len(_launched(runner, "again")) == 1


def test_a_key_is_forgotten_after_its_sensors_retention(
    runner: TickRunner, storage: Repositories
) -> None:
    assert len(_launched(runner, "forgetful")) == 1
    assert _launched(runner, "forgetful") == []
    time.sleep(1.2)
    assert len(_launched(runner, "forgetful")) == 1


def test_a_commit_forgets_a_bounded_number_of_expired_keys(
    runner: TickRunner, storage: Repositories
) -> None:
    name = "forgetful"
    storage.sensors.set_cursor(name, dg_cursor([f"k{i}" for i in range(250)]))
    assert len(_launched(runner, name)) == 250
    time.sleep(1.2)
    storage.sensors.set_cursor(name, dg_cursor(["fresh"]))
    _launched(runner, name)
    # One fresh key in, at most 100 expired ones out per commit.
    assert storage.client.hlen(storage.keys.run_keys(name)) == 251 - 100
    assert storage.client.zcard(storage.keys.run_key_times(name)) == 251 - 100


def dg_cursor(value: object) -> bytes:
    return encode_value(value)


def test_has_run_key_reads_the_sensors_keys_at_most_the_cap_per_tick(
    runner: TickRunner, storage: Repositories
) -> None:
    first = runner.tick("asks")
    assert first is not None and len(first.run_request_ids) == 1
    second = runner.tick("asks")
    assert second is not None and second.skip_reason == "nightly used"
    greedy = runner.tick("greedy")
    assert greedy is not None and greedy.status == "FAILURE"
    assert "more than 100 context.has_run_key look-ups" in (greedy.error or "")


def test_has_run_key_in_a_test_answers_from_the_instances_runs_or_says_it_cannot() -> None:
    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_sensor_context(instance=instance, sensor_name="asks")
    assert context.has_run_key("nightly") is False
    tags = {"dagster/run_key": "nightly", "dagster/sensor_name": "asks"}
    run = dg.DagsterRun("r1", "flaky_job", dg.DagsterRunStatus.FAILURE, tags)
    instance.store_run(run, 1.0, 2.0)
    assert context.has_run_key("nightly") is True
    other = dg.build_sensor_context(instance=instance, sensor_name="once")
    assert other.has_run_key("nightly") is False  # another sensor's key
    with pytest.raises(dg.DefinitionError, match="needs the sensor's run keys"):
        dg.build_sensor_context().has_run_key("nightly")


def test_a_failed_runs_key_runs_again_on_a_real_launcher_and_worker_exactly_once(
    spawn: Spawn, runner: TickRunner, storage: Repositories, settings: Settings
) -> None:
    start_worker(spawn, settings, LOCATION, queues=settings.run_queue, env={"FLAKY_SLEEP": "1"})
    start_launcher(spawn, settings, LOCATION)
    counts: dict[str, int] = {}
    for name in ("again", "once"):
        [first] = _launched(runner, name)
        # While its run is queued and running, the key stays taken.
        assert _launched(runner, name) == []
        _wait_failed(storage, first)
        again = _launched(runner, name)
        assert _launched(runner, name) == []  # the same failure: no second rerun
        counts[name] = 1 + len(again)
        if again:
            _wait_failed(storage, again[0])
            assert len(_launched(runner, name)) == 1  # its own failure: one rerun more
            counts[name] += 1
    assert counts == {"again": 3, "once": 1}
    assert len(storage.runs.recent(sensor="again")) == 3
    assert len(storage.runs.recent(sensor="once")) == 1


def _wait_failed(storage: Repositories, run_id: str) -> None:
    def failed() -> bool:
        found = storage.runs.get(run_id)
        return found is not None and found.status == "FAILURE"

    wait_for(failed, 30, what=f"run {run_id} to fail")


def test_the_commit_names_the_run_the_launcher_creates_for_each_request() -> None:
    for request_id in ("t1-0", "abc-17", "push-x"):
        assert launch_run_id(request_id) == run_id_for(request_id)
