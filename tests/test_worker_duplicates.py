"""A tick delivered twice (a publish resent after a lost reply) is evaluated once."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from lookout import Settings
from lookout.testing import Repositories
from lookout.workers.app import make_celery
from lookout.workers.identity import known_dead, this_process
from tests.conftest import Spawn
from tests.locations.work_support import claim_ticks, publish, start_worker, wait_committed

LOCATION = "tests.locations.work_slow"


def test_a_tick_published_twice_is_evaluated_by_one_process_only(
    spawn: Spawn, settings: Settings, storage: Repositories, tmp_path: Path
) -> None:
    mark = tmp_path / "evaluations"
    env = {"WORK_SLOW_MARK": str(mark), "WORK_SLOW_SLEEP": "1.5"}
    # Two pool processes: each copy of the message can be taken at once.
    start_worker(spawn, settings, LOCATION, concurrency=2, queues=settings.tick_queue, env=env)
    app = make_celery(settings)
    [tick] = claim_ticks(storage, settings, ["sluggish"])
    publish(app, [tick])
    publish(app, [tick])  # the same tick again, as a resent publish delivers it
    wait_committed(storage, [tick], timeout=20)
    time.sleep(1.0)  # time for a second evaluation to show, were there one
    app.close()
    assert len(mark.read_text().split()) == 1
    assert [t.tick_id for t in storage.ticks.history("sluggish", 10)] == [tick.tick_id]


def test_a_holder_is_dead_only_when_its_process_on_this_host_is_gone() -> None:
    me = this_process()
    assert not known_dead(me)
    child = subprocess.Popen(["sleep", "0"])
    child.wait()
    host, _, started = me.rsplit(":", 2)
    assert known_dead(f"{host}:{child.pid}:{started}")
    # A live pid whose start time differs is a reused pid: the holder is gone.
    assert known_dead(f"{host}:{os.getpid()}:1")
    # Another host's process cannot be checked from here: assumed alive.
    assert not known_dead(f"some-other-host:{child.pid}:{started}")
