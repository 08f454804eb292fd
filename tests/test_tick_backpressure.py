"""Back-pressure on the tick path, with a real scheduler, a real worker and Redis.

When the workers fall behind (a stopped worker, sensors slower than the
offered load), the tick queue holds at most its bound (plus one round's
messages): the leader claims nothing more, so no tick waits in the queue
until its lease lapses, and the sensors tick late instead.  A tick whose
lease lapsed in the queue all the same (its worker was stopped for longer
than a lease) is given back without a FAILURE record, and once the workers
are back every sensor ticks again.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from lookout import Settings
from lookout._tools.monitor.figures import read_figures
from lookout.testing import Repositories
from tests.conftest import Spawn, wait_for
from tests.locations.sched_support import (
    evaluations,
    log_text,
    sched_env,
    start_scheduler,
    start_worker,
)

CONCURRENCY = 2
# LOOKOUT_TICK_QUEUE_LIMIT (messages per worker process), and a round's most
# messages: LOOKOUT_SCHEDULE_LIMIT ticks in messages of LOOKOUT_TICK_BATCH_SIZE.
PER_PROCESS = 2
ROUND_MESSAGES = 2
BATCH = 5


def overload_env(
    settings: Settings, fleet: int, evaluation: float, batch: int = BATCH, **extra: str
) -> dict[str, str]:
    return sched_env(
        settings,
        SCHED_FLEET=str(fleet),
        SCHED_FLEET_EVAL=str(evaluation),
        LOOKOUT_TICK_QUEUE_LIMIT=str(PER_PROCESS),
        LOOKOUT_TICK_BATCH_SIZE=str(batch),
        LOOKOUT_SCHEDULE_LIMIT=str(batch * ROUND_MESSAGES),
        **extra,
    )


class QueueWatch:
    """Samples the tick queue's length every 20 ms on a thread: the most it held."""

    def __init__(self, storage: Repositories, settings: Settings) -> None:
        self.client = storage.client
        self.key = storage.keys.celery_queue(settings.tick_queue)
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.most = max(self.most, int(self.client.llen(self.key)))

    def __enter__(self) -> QueueWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def failures(storage: Repositories, names: list[str]) -> list[str]:
    return [
        f"{name}: {t.error}"
        for name in names
        for t in storage.ticks.history(name, 1000)
        if t.status == "FAILURE"
    ]


def evaluated_since(storage: Repositories, names: list[str], since: float) -> list[str]:
    return [n for n in names if any(start >= since for start, _, _ in evaluations(storage, n))]


def test_a_stopped_worker_fills_the_tick_queue_only_to_its_bound_and_every_sensor_ticks_again(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    fleet = [f"fleet_{i}" for i in range(60)]
    env = overload_env(settings, len(fleet), 0.0)
    worker = start_worker(spawn, env, concurrency=CONCURRENCY)
    scheduler = start_scheduler(spawn, env)
    wait_for(lambda: len(evaluated_since(storage, fleet, 0)) == len(fleet), 30, what="ticks")
    # 60 sensors at 1 s: 12 messages a second.  Stopped for longer than a
    # lease, the worker takes none; without a bound the queue would grow by
    # 12 a second and every queued tick lapse.
    stall = settings.tick_timeout + settings.inflight_margin + 3.0
    with QueueWatch(storage, settings) as watch:
        os.killpg(worker.pid, signal.SIGSTOP)
        try:
            time.sleep(stall / 2)
            figures = read_figures(storage.metrics, storage.processes, settings)
            assert figures.ticks_held_back, figures.queues
            time.sleep(stall / 2)
        finally:
            os.killpg(worker.pid, signal.SIGCONT)
        resumed = time.time()
        wait_for(
            lambda: len(evaluated_since(storage, fleet, resumed)) == len(fleet),
            60,
            what="every sensor to tick again after the worker resumed",
        )
    assert watch.most <= PER_PROCESS * CONCURRENCY + ROUND_MESSAGES, watch.most
    # The queued ticks' leases lapsed while the worker was stopped: given
    # back without a record.  Only ticks the stopped process had begun (its
    # message in hand) may be FAILUREs, saying it began them.
    assert storage.metrics.sensor_counts().lapsed > 0
    failed = failures(storage, fleet)
    assert all("began it" in f for f in failed), failed
    assert len(failed) <= BATCH * CONCURRENCY, failed
    assert "at its bound" in log_text(scheduler)
    wait_for(
        lambda: not read_figures(storage.metrics, storage.processes, settings).ticks_held_back,
        30,
        what="the tick queue to drain below its bound",
    )


def test_sensors_slower_than_the_offered_load_tick_late_never_lapse(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    # 150 sensors at 1 s taking 0.1 s each: 15 s of evaluation offered each
    # second to 2 processes, a whole round of the fleet 7.5 s of work.
    # Unbounded, the queue takes every sensor's tick (one each in flight) and
    # the last wait longer than a lease (4.5 s here): they lapse.
    fleet = [f"fleet_{i}" for i in range(150)]
    lease = {"LOOKOUT_TICK_TIMEOUT": "3", "LOOKOUT_INFLIGHT_MARGIN": "1.5"}
    env = overload_env(settings, len(fleet), 0.1, batch=2, **lease)
    start_worker(spawn, env, concurrency=CONCURRENCY)
    start_scheduler(spawn, env)
    wait_for(lambda: len(evaluated_since(storage, fleet, 0)) > 0, 30, what="a first tick")
    began = time.time()
    with QueueWatch(storage, settings) as watch:
        time.sleep(25.0)
    assert watch.most <= PER_PROCESS * CONCURRENCY + ROUND_MESSAGES, watch.most
    assert storage.metrics.sensor_counts().lapsed == 0
    assert failures(storage, fleet) == []
    # Every sensor keeps ticking, late: the oldest due are claimed first.
    counts = {n: sum(s >= began for s, _, _ in evaluations(storage, n)) for n in fleet}
    assert min(counts.values()) >= 2, counts
