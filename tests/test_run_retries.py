"""Run retries (``dagster/max_retries``): one retry per attempt, linked, whatever dies when."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from lookout import Settings
from lookout._base.errors import LookoutError
from lookout.testing import (
    EventKind,
    Repositories,
    StoredRun,
    load_definitions,
    open_repositories,
    tick_runner,
)
from lookout.workers.retries import (
    PARENT_RUN_ID_TAG,
    RESUME_RETRY_TAG,
    RETRY_NUMBER_TAG,
    ROOT_RUN_ID_TAG,
    WILL_RETRY_TAG,
    Retrier,
    retry_record,
    retry_run_id,
    will_retry,
)
from lookout.workers.runs import Delivery, RunExecutor, status_event
from tests.conftest import ROOT, Process, Spawn, process_env, wait_for
from tests.locations.work_support import (
    all_events,
    start_launcher,
    start_worker,
    status_events,
)

LOCATION = "tests.locations.work_retries"
MAX_RETRIES = "dagster/max_retries"
CHAIN = {MAX_RETRIES: "2", "team": "retries"}


def _failed_run(
    storage: Repositories, tags: dict[str, str], *, retry: bool | None, status: str = "FAILURE"
) -> StoredRun:
    """A run created, started and ended in ``status``, as an executor ends one."""
    now = time.time()
    record = StoredRun(uuid.uuid4().hex, "doomed_job", "QUEUED", now, sensor="doomed", tags=tags)
    storage.runs.create([(record, status_event(record, "QUEUED", now))])
    storage.runs.start(record.run_id, "owner", now, 30.0, status_event(record, "STARTED", now))
    storage.runs.finish(
        record.run_id,
        ("STARTED", status),
        now,
        status_event(record, status, now, "boom"),
        error="boom",
        will_retry=retry,
    )
    found = storage.runs.get(record.run_id)
    assert found is not None
    return found


def test_a_failure_that_will_be_retried_joins_the_retry_list_with_its_failure(
    storage: Repositories,
) -> None:
    retried = _failed_run(storage, CHAIN, retry=True)
    final = _failed_run(storage, CHAIN, retry=False)
    succeeded = _failed_run(storage, CHAIN, retry=None, status="SUCCESS")
    assert storage.runs.to_retry(100) == [retried.run_id]
    assert (retried.will_retry, final.will_retry, succeeded.will_retry) == (True, False, None)
    assert retried.status == "FAILURE" and retried.retry_run_id is None


def test_the_same_retry_attempt_submitted_twice_creates_one_run(
    storage: Repositories, settings: Settings
) -> None:
    failed = _failed_run(storage, CHAIN, retry=True)
    child = retry_record(failed, time.time())
    event = status_event(child, "QUEUED", child.created_at)
    first = storage.runs.retry([(failed.run_id, child, event)])
    later = replace_created(child)
    second = storage.runs.retry([(failed.run_id, later, status_event(later, "QUEUED", 0.0))])

    assert first[0] is not None and first[0].created and first[0].status == "QUEUED"
    assert second[0] is not None and not second[0].created and second[0].run_id == child.run_id
    assert storage.client.zcard(storage.keys.runs) == 2
    queued = [e.run_id for e in status_events(storage, "QUEUED")]
    assert Counter(queued) == {failed.run_id: 1, child.run_id: 1}
    parent = storage.runs.get(failed.run_id)
    assert parent is not None and parent.retry_run_id == child.run_id
    stored = storage.runs.get(child.run_id)
    assert stored is not None and stored.created_at == child.created_at  # the first one's


def replace_created(record: StoredRun) -> StoredRun:
    """The same retry built again a moment later (a second launcher's, say)."""
    return StoredRun(**{**record.to_wire(), "created_at": record.created_at + 5.0})


def test_launchers_racing_on_one_attempt_create_one_run(settings: Settings) -> None:
    stores = [open_repositories(settings) for _ in range(8)]
    try:
        failed = _failed_run(stores[0], CHAIN, retry=True)
        child = retry_record(failed, time.time())
        results: list[bool] = []
        go = threading.Barrier(len(stores))

        def race(store: Repositories) -> None:
            go.wait()
            (made,) = store.runs.retry(
                [(failed.run_id, child, status_event(child, "QUEUED", child.created_at))]
            )
            assert made is not None
            results.append(made.created)

        threads = [threading.Thread(target=race, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sorted(results) == [False] * 7 + [True]
        assert stores[0].client.zcard(stores[0].keys.runs) == 2
    finally:
        for store in stores:
            store.close()


def test_a_failed_run_not_to_be_retried_gets_no_retry(storage: Repositories) -> None:
    final = _failed_run(storage, CHAIN, retry=False)
    child = retry_record(final, time.time())
    made = storage.runs.retry([(final.run_id, child, status_event(child, "QUEUED", 0.0))])
    gone = retry_record(replace_created(final), time.time())
    missing = storage.runs.retry([("no-such-run", gone, status_event(gone, "QUEUED", 0.0))])
    assert made == [None] and missing == [None]
    assert storage.client.zcard(storage.keys.runs) == 1


def test_a_retry_deleted_since_is_not_created_again(storage: Repositories) -> None:
    failed = _failed_run(storage, CHAIN, retry=True)
    child = retry_record(failed, time.time())
    event = status_event(child, "QUEUED", 0.0)
    storage.runs.retry([(failed.run_id, child, event)])
    storage.client.delete(storage.keys.run(child.run_id))
    assert storage.runs.retry([(failed.run_id, child, event)]) == [None]
    assert storage.runs.to_retry(10) == []


def test_a_failed_run_whose_record_cannot_be_read_does_not_stop_the_retries_behind_it(
    storage: Repositories, settings: Settings
) -> None:
    broken = _failed_run(storage, CHAIN, retry=True)
    storage.client.hset(storage.keys.run(broken.run_id), "d", b"\xc1 not msgpack")
    sound = _failed_run(storage, CHAIN, retry=True)
    submitted: list[str] = []
    retrier = Retrier(load_definitions(module=LOCATION), storage.runs, submitted.extend, 10)
    assert retrier.round(time.time()) == 2
    assert submitted == [retry_run_id(sound.run_id, 1)] and retrier.retried == 1
    assert storage.runs.to_retry(10) == []


def test_the_retry_decision_follows_dagsters_tags_and_the_deployment_default() -> None:
    default = Settings(run_max_retries=1)
    record = StoredRun("r", "job", "FAILURE", 0.0)
    assert not will_retry(record, Settings(), step_failed=True)
    assert will_retry(record, default, step_failed=True)
    tagged = StoredRun("r", "job", "FAILURE", 0.0, tags={"dagster/max_retries": "2"})
    second = StoredRun("r", "job", "FAILURE", 0.0, tags={**tagged.tags, RETRY_NUMBER_TAG: "1"})
    last = StoredRun("r", "job", "FAILURE", 0.0, tags={**tagged.tags, RETRY_NUMBER_TAG: "2"})
    assert [will_retry(r, Settings(), step_failed=True) for r in (tagged, second, last)] == [
        True,
        True,
        False,
    ]
    assert not will_retry(
        StoredRun("r", "job", "FAILURE", 0.0, tags={"dagster/max_retries": "two"}),
        default,
        step_failed=True,
    )
    no_step = {**tagged.tags, "dagster/retry_on_asset_or_op_failure": "false"}
    strict = StoredRun("r", "job", "FAILURE", 0.0, tags=no_step)
    assert not will_retry(strict, default, step_failed=True)
    assert will_retry(strict, default, step_failed=False)  # its worker died: retried


def test_a_retry_is_linked_to_its_parent_and_root_and_inherits_the_request() -> None:
    root = StoredRun(
        "root",
        "job",
        "FAILURE",
        0.0,
        sensor="s",
        run_key="k",
        tags={**CHAIN, "team": "x", WILL_RETRY_TAG: "true"},
        run_config={"ops": {"a": {"config": {"n": 1}}}},
        asset_selection=["a"],
    )
    first = retry_record(root, 1.0)
    second = retry_record(StoredRun(**{**first.to_wire(), "status": "FAILURE"}), 2.0)
    assert first.run_id == retry_run_id("root", 1) != retry_run_id("root", 2)
    assert first.tags == {
        **CHAIN,
        "team": "x",
        PARENT_RUN_ID_TAG: "root",
        ROOT_RUN_ID_TAG: "root",
        RETRY_NUMBER_TAG: "1",
        RESUME_RETRY_TAG: "true",
    }
    assert (second.tags[PARENT_RUN_ID_TAG], second.tags[ROOT_RUN_ID_TAG]) == (first.run_id, "root")
    assert second.tags[RETRY_NUMBER_TAG] == "2"
    assert (first.sensor, first.run_key, first.asset_selection) == ("s", "k", ["a"])
    assert first.run_config == root.run_config and first.status == "QUEUED"
    all_steps = StoredRun("r", "job", "FAILURE", 0.0, tags={"dagster/retry_strategy": "ALL_STEPS"})
    assert RESUME_RETRY_TAG not in retry_record(all_steps, 0.0).tags
    unknown = StoredRun("r", "job", "FAILURE", 0.0, tags={"dagster/retry_strategy": "SOMETIMES"})
    assert retry_record(unknown, 0.0).tags[RESUME_RETRY_TAG] == "true"  # FROM_FAILURE


def test_the_deployment_default_of_retries_is_read_and_validated() -> None:
    assert Settings.from_env({"LOOKOUT_RUN_MAX_RETRIES": "3"}).run_max_retries == 3
    assert Settings.from_env({}).run_max_retries == 0
    with pytest.raises(LookoutError, match="LOOKOUT_RUN_MAX_RETRIES=-1 must be 0 or more"):
        Settings.from_env({"LOOKOUT_RUN_MAX_RETRIES": "-1"})
    with pytest.raises(LookoutError, match="not a valid int"):
        Settings.from_env({"LOOKOUT_RUN_MAX_RETRIES": "many"})


def _chain_in_process(
    storage: Repositories, settings: Settings, job: str, tags: dict[str, str]
) -> list[StoredRun]:
    """Run ``job`` and its retries with a real executor and retrier, in this process."""
    definitions = load_definitions(module=LOCATION)
    now = time.time()
    first = StoredRun(uuid.uuid4().hex, job, "QUEUED", now, sensor="partial", tags=tags)
    storage.runs.create([(first, status_event(first, "QUEUED", now))])
    executor = RunExecutor(definitions, storage.runs, settings)
    submitted: list[str] = [first.run_id]
    retrier = Retrier(definitions, storage.runs, submitted.extend, 10)
    while submitted:
        for run_id in submitted:
            assert executor.deliver(run_id) is Delivery.EXECUTED
        submitted.clear()
        retrier.round(time.time())
    return _runs(storage)


def _materialized(storage: Repositories) -> Counter[str]:
    return Counter(
        e.asset_key or ""
        for e in all_events(storage)
        if e.kind == EventKind.ASSET_MATERIALIZATION.value
    )


def test_a_from_failure_retry_leaves_out_the_assets_that_succeeded_and_are_not_needed(
    storage: Repositories, settings: Settings
) -> None:
    failed, retry = _chain_in_process(storage, settings, "partial_job", {MAX_RETRIES: "1"})
    assert failed.succeeded_steps == ["archive", "base"]
    # fragile failed; base runs again because fragile takes its output.
    assert failed.asset_selection is None and retry.asset_selection == ["base", "fragile"]
    assert retry.tags[RESUME_RETRY_TAG] == "true" and retry.status == "FAILURE"
    assert _materialized(storage) == {"archive": 1, "base": 2}


def test_an_all_steps_retry_runs_every_step_again(
    storage: Repositories, settings: Settings
) -> None:
    tags = {MAX_RETRIES: "1", "dagster/retry_strategy": "ALL_STEPS"}
    _, retry = _chain_in_process(storage, settings, "partial_job", tags)
    assert retry.asset_selection is None and RESUME_RETRY_TAG not in retry.tags
    assert _materialized(storage) == {"archive": 2, "base": 2}


def test_a_jobs_own_max_retries_tag_retries_its_runs(
    storage: Repositories, settings: Settings
) -> None:
    failed, retry = _chain_in_process(storage, settings, "tagged_job", {})
    assert failed.will_retry is True and retry.will_retry is False
    assert retry.tags == {
        PARENT_RUN_ID_TAG: failed.run_id,
        ROOT_RUN_ID_TAG: failed.run_id,
        RETRY_NUMBER_TAG: "1",
    }  # ALL_STEPS, from the job's tags: not a resume retry


def test_an_op_job_is_retried_whole_and_a_step_failure_can_be_excluded(
    storage: Repositories, settings: Settings
) -> None:
    runs = _chain_in_process(storage, settings, "doomed_job", {MAX_RETRIES: "1"})
    assert [r.asset_selection for r in runs] == [None, None]
    assert runs[0].succeeded_steps == []
    storage.client.flushdb()
    no_step = {MAX_RETRIES: "1", "dagster/retry_on_asset_or_op_failure": "false"}
    (alone,) = _chain_in_process(storage, settings, "doomed_job", no_step)
    assert alone.will_retry is False and alone.status == "FAILURE"


# -- real processes --------------------------------------------------------------


def _runs(storage: Repositories) -> list[StoredRun]:
    return sorted(storage.runs.recent(limit=100), key=lambda r: r.created_at)


def _failed(storage: Repositories, count: int) -> bool:
    runs = _runs(storage)
    return len(runs) == count and all(r.status == "FAILURE" for r in runs)


def _kill_while_a_run_fails(storage: Repositories, launcher: Process, runs: int) -> None:
    """Freeze ``launcher`` while run number ``runs`` executes, let it fail, then kill -9."""
    wait_for(
        lambda: len(_runs(storage)) == runs and _runs(storage)[-1].status == "STARTED",
        30,
        what=f"run {runs} to start",
    )
    os.kill(launcher.pid, signal.SIGSTOP)
    wait_for(lambda: _failed(storage, runs), 30, what=f"run {runs} to fail")
    os.kill(launcher.pid, signal.SIGKILL)
    launcher.wait(10)
    # Its retry is not created: the failed run waits on the retry list (with,
    # if the launcher froze before its last step, the run before it).
    assert len(_runs(storage)) == runs
    assert _runs(storage)[-1].run_id in storage.runs.to_retry(10)


def _assert_chain(storage: Repositories) -> list[StoredRun]:
    """Three runs, each the retry of the one before, the last one not retried."""
    first, second, third = _runs(storage)
    assert PARENT_RUN_ID_TAG not in first.tags and RETRY_NUMBER_TAG not in first.tags
    for attempt, (parent, child) in enumerate([(first, second), (second, third)], start=1):
        assert child.tags[PARENT_RUN_ID_TAG] == parent.run_id
        assert child.tags[ROOT_RUN_ID_TAG] == first.run_id
        assert child.tags[RETRY_NUMBER_TAG] == str(attempt)
        assert child.tags["team"] == "retries" and child.sensor == "doomed"
        assert parent.retry_run_id == child.run_id and parent.will_retry is True
    assert third.will_retry is False and third.retry_run_id is None
    for status in ("QUEUED", "STARTED", "FAILURE"):
        per_run = Counter(e.run_id for e in status_events(storage, status))
        assert per_run == {r.run_id: 1 for r in (first, second, third)}, status
    return [first, second, third]


def test_max_retries_2_always_failing_gives_three_linked_runs_across_launcher_kills(
    spawn: Spawn,
    settings: Settings,
    storage: Repositories,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outbox = tmp_path / "failures"
    monkeypatch.setenv("RETRY_OUTBOX", str(outbox))
    runner = tick_runner(load_definitions(module=LOCATION), storage, settings)
    runner.tick("watch_failures")  # its first tick starts at the newest event
    record = runner.tick("doomed")
    assert record is not None and len(record.run_request_ids) == 1

    start_worker(spawn, settings, LOCATION, queues=settings.run_queue, env={"RETRY_SLEEP": "2"})
    _kill_while_a_run_fails(storage, start_launcher(spawn, settings, LOCATION), 1)
    _kill_while_a_run_fails(storage, start_launcher(spawn, settings, LOCATION), 2)
    last = start_launcher(spawn, settings, LOCATION)
    wait_for(lambda: _failed(storage, 3), 30, what="the third run to fail")
    # Several more rounds of the launcher: nothing more is launched.
    time.sleep(3)
    chain = _assert_chain(storage)
    assert storage.runs.to_retry(10) == []
    assert last.poll() is None

    # The run-failure sensor saw every failed run, the retried ones too.
    runner.tick("watch_failures")
    assert outbox.read_text().splitlines() == [
        f"{chain[0].run_id} 0 true",
        f"{chain[1].run_id} 1 true",
        f"{chain[2].run_id} 2 false",
    ]

    shown = subprocess.run(
        [sys.executable, "-m", "lookout", "runs", "show", chain[2].run_id],
        env=process_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert f"attempt 2  parent {chain[1].run_id}  root {chain[0].run_id}" in shown


def test_a_retry_created_by_a_launcher_that_died_before_enqueueing_it_runs_once(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    failed = _failed_run(storage, CHAIN, retry=True)
    # A launcher that died after its first step: the retry exists, QUEUED,
    # never enqueued, and the failed run is still on the retry list.
    child = retry_record(failed, time.time())
    storage.runs.retry([(failed.run_id, child, status_event(child, "QUEUED", child.created_at))])
    assert storage.runs.to_retry(10) == [failed.run_id]

    start_worker(spawn, settings, LOCATION, queues=settings.run_queue)
    start_launcher(spawn, settings, LOCATION)
    wait_for(lambda: _failed(storage, 3), 30, what="the chain to fail")
    time.sleep(2)
    chain = _assert_chain(storage)
    assert chain[1].run_id == child.run_id
