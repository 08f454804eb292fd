"""A run left STARTED by an executor that died, whose message never came back, still ends.

The launchers' sweep hands such a run (its lease lapsed, long after it was
handed out) to the run queue again; the delivery finds its executor gone
and ends it as a FAILURE that says so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from lookout import Settings
from lookout.testing import LaunchRequest, Repositories, load_definitions
from lookout.workers.launcher import Launcher
from lookout.workers.runs import Delivery, RunExecutor, new_run, status_event

LOCATION = "tests.locations.work_basic"


def test_a_started_run_whose_executor_vanished_is_handed_out_again_and_fails_saying_so(
    storage: Repositories, settings: Settings
) -> None:
    definitions = load_definitions(module=LOCATION)
    job = definitions.jobs[0].name
    launch = LaunchRequest(
        request_id="orphan-1",
        sensor="touch",
        tick_id="t1",
        job_name=job,
        run_key=None,
        run_config={},
        tags={},
        partition_key=None,
        created_at=time.time(),
    )
    run = new_run(launch, definitions, time.time())
    storage.runs.create([(run, status_event(run, run.status, run.created_at))])
    storage.runs.mark_enqueued([run.run_id], time.time())
    # An executor takes it with a short lease, then dies: nothing renews the lease.
    started = time.time()
    storage.runs.start(run.run_id, "gone:1", started, 0.2, status_event(run, "STARTED", started))
    time.sleep(0.5)

    handed: list[str] = []

    def submit(run_ids: Sequence[str], /, pack: int = 1) -> None:
        handed.extend(run_ids)

    quick = replace(settings, run_resubmit_after=0.1)
    launcher = Launcher(
        definitions,
        quick,
        submit,
        launches=storage.launches,
        runs=storage.runs,
        events=storage.events,
        dead_letters=storage.dead_letters,
    )
    assert launcher.resubmit_lost(time.time()) == 1
    assert handed == [run.run_id]
    assert launcher.resubmit_lost(time.time()) == 0  # handed once per resubmit period

    executor = RunExecutor(definitions, storage.runs, quick)
    assert executor.deliver(run.run_id) is Delivery.SETTLED
    ended = storage.runs.get(run.run_id)
    assert ended is not None and ended.status == "FAILURE"
    assert ended.error is not None and "stopped while it ran" in ended.error
