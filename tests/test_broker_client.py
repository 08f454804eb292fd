"""lookout's broker channel publishes and acknowledges through one client, across restarts.

kombu built a new redis-py client object for every publish and every
acknowledgement, a large share of the scheduler's and the worker's CPU at
high message rates.  A channel now keeps one (a client borrows a pooled
connection per command); ticks published after Redis restarted still arrive.
"""

from __future__ import annotations

from pathlib import Path

from lookout._core.settings import Settings
from lookout._core.storage import ClaimedTick, ClaimedTicks, Repositories
from lookout._tools.redis_server import EmbeddedRedis, free_port
from lookout.scheduler import TickPublisher
from lookout.workers.app import make_celery


def test_a_channel_keeps_one_client_and_publishes_again_after_redis_restarts(
    tmp_path: Path,
) -> None:
    port = free_port()
    server = EmbeddedRedis(port, directory=str(tmp_path)).start()
    settings = Settings(redis_url=server.url)
    app = make_celery(settings)
    publisher = TickPublisher(settings, app)
    storage = Repositories.from_settings(settings)
    queue = storage.keys.celery_queue(settings.tick_queue)
    try:
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            with channel.conn_or_acquire() as first, channel.conn_or_acquire() as again:
                assert first is again
        assert publisher.publish(ClaimedTicks.of([ClaimedTick("a", "t1", 1.0)])) == 1
        assert storage.client.llen(queue) == 1
        server.stop()
        server = EmbeddedRedis(port, directory=str(tmp_path)).start()
        assert publisher.publish(ClaimedTicks.of([ClaimedTick("b", "t2", 2.0)])) == 1
        assert storage.client.llen(queue) == 1  # the first went with the restart
    finally:
        publisher.close()
        storage.client.close()
        server.stop()
