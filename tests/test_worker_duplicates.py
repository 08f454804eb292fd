"""A tick delivered twice (a publish resent after a lost reply) is evaluated once."""

from __future__ import annotations

import time
from pathlib import Path

from lookout import Settings
from lookout.testing import Repositories
from lookout.workers.app import make_celery
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


def test_a_second_delivery_leaves_a_held_tick_to_its_holder_on_any_host(
    storage: Repositories, settings: Settings
) -> None:
    [tick] = claim_ticks(storage, settings, ["sluggish"])
    ref = (tick.sensor, tick.tick_id)
    # No liveness check of the holder's process: only its lease decides.
    assert storage.ticks.begin([ref], "host-a:1:job-1", settings.inflight_ttl) == [""]
    assert storage.ticks.begin([ref], "host-b:1:job-2", settings.inflight_ttl) == ["host-a:1:job-1"]
    # The holder itself (its message delivered to it again) keeps it.
    assert storage.ticks.begin([ref], "host-a:1:job-1", settings.inflight_ttl) == [""]
    assert storage.ticks.holder("sluggish") == "host-a:1:job-1"
