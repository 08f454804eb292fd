"""A worker cut off from Redis mid-message: no tick it held is stranded or lost.

Worker A evaluates a message of slow ticks through a proxy that the test
cuts for longer than redis-py retries and than the broker's visibility
timeout, so the message goes to worker B meanwhile; B finds the ticks held
by A and leaves them alone.  A cannot commit or renew: it stops, and gives
back what it held as soon as Redis answers again.  No tick is left in flight
and none is recorded as a FAILURE, for none failed.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import redis

from lookout import Settings
from lookout.testing import Repositories
from lookout.workers.app import make_celery
from tests.conftest import Spawn, wait_for
from tests.locations.sched_proxy import RedisProxy
from tests.locations.work_support import claim_ticks, log_text, publish, start_worker

LOCATION = "tests.locations.work_slow"
SENSORS = ["sluggish", "sluggish_b", "quick"]


def test_a_worker_cut_off_mid_message_leaves_no_tick_lost_or_in_flight(
    spawn: Spawn, settings: Settings, storage: Repositories, redis_url: str, tmp_path: Path
) -> None:
    mark = tmp_path / "started"
    env = {"WORK_SLOW_MARK": str(mark), "WORK_SLOW_SLEEP": "2"}
    upstream = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs["port"]
    with RedisProxy(upstream) as proxy:
        through = replace(settings, redis_url=proxy.url)
        worker = start_worker(spawn, through, LOCATION, queues=settings.tick_queue, env=env)
        app = make_celery(settings)
        ticks = claim_ticks(storage, settings, SENSORS)
        publish(app, ticks)
        app.close()
        wait_for(mark.exists, 15, what="the first evaluation")
        proxy.cut_off()
        other = start_worker(spawn, settings, LOCATION, queues=settings.tick_queue, env=env)
        # Longer than redis-py's retries, and than the visibility timeout after
        # which the message A took is delivered again, to B.
        time.sleep(30)
        proxy.restore()

        def settled() -> bool:
            return all(storage.sensors.state(n).inflight is None for n in SENSORS)

        wait_for(settled, 40, what="the held ticks to be committed or given back")
        assert worker.poll() is None, log_text(worker)
        assert other.poll() is None, log_text(other)
    for tick in ticks:
        history = storage.ticks.history(tick.sensor, 10)
        assert all(t.status != "FAILURE" for t in history), (tick.sensor, history[0].error)
