"""The Celery app: configured for short, idempotent tasks on Redis, msgpack only.

The app is built by a factory from explicit settings; nothing is registered
at import time.  The scheduler uses the same factory to publish, workers
register their tasks on it (``lookout.workers.tasks``).
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

from celery import Celery

from lookout._base.wire import RUN_TASK, TICK_TASK
from lookout._core.keys import Keys
from lookout._core.settings import Settings

# By name, not the class: Celery reports the transport to ``inspect stats``,
# which must serialize it.
BROKER_TRANSPORT = "lookout.workers.broker:Transport"


def make_celery(settings: Settings, name: str = "lookout") -> Any:
    """A Celery app on ``settings.redis_url``, routing ticks and runs to their queues.

    Its broker is lookout's Redis transport (``lookout.workers.broker``): a
    consumer survives Redis restarts and dead-letters raw items on its queues.
    """
    # kombu ships type hints only in part; its Queue is called untyped.
    from kombu.entity import Exchange, Queue

    # Each queue on its own exchange and routing key: a Queue given only a
    # name is bound to the default exchange with the default routing key, so
    # both queues would get every message and each tick would run twice.
    queues = [
        Queue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]
        for name in (settings.tick_queue, settings.run_queue)
    ]
    app = Celery(name, broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        broker_transport=BROKER_TRANSPORT,
        # A transport named here skips kombu's scheme aliases, so a rediss://
        # URL is told to use TLS here; certificates are checked, as the
        # storage's client does, unless the URL's ssl_cert_reqs says not.
        broker_use_ssl=_tls(settings.redis_url),
        # Invariant 6: nothing is ever unpickled.
        task_serializer="msgpack",
        result_serializer="msgpack",
        accept_content=["msgpack"],
        event_serializer="json",
        task_ignore_result=True,
        # A task is acknowledged when it ends, and given back when its worker
        # dies mid-task, so a killed worker's tick is evaluated again; the tick
        # commit is idempotent by tick id, so a second delivery is harmless.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Short tasks: one prefetched message per process keeps ticks from
        # waiting behind a slow evaluation in another process's buffer.
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_transport_options={
            # An unacknowledged message (its whole worker died) is given back
            # after this; ticks and runs are idempotent, so early is safe.
            "visibility_timeout": int(settings.inflight_ttl * 2),
            # Look for such messages every 10 s (kombu's interval), not on
            # every tenth look (its default throttle): a message a worker had
            # taken when Redis went away waited 100 s more to come back.
            "unacked_restore_throttle": 1,
            "global_keyprefix": Keys(settings.key_prefix).celery_prefix,
            # A stalled Redis ends in a timeout the consumer recovers from.
            "socket_timeout": settings.redis_socket_timeout,
            "socket_connect_timeout": settings.redis_connect_timeout,
            # Where a raw item popped from a queue is dead-lettered.
            "lookout_key_prefix": settings.key_prefix,
            "lookout_dead_letter_max": settings.dead_letter_max,
        },
        redis_socket_timeout=settings.redis_socket_timeout,
        redis_socket_connect_timeout=settings.redis_connect_timeout,
        task_queues=queues,
        task_routes={
            TICK_TASK: {"queue": settings.tick_queue},
            RUN_TASK: {"queue": settings.run_queue},
        },
        task_default_queue=settings.tick_queue,
        # Task events for Flower, off unless LOOKOUT_TASK_EVENTS: they cost a
        # publish per message in the worker and in the scheduler.  Flower turns
        # the workers' events on itself (``celery control enable_events``);
        # the worker's own heartbeat events stay on, so Flower sees it alive.
        worker_send_task_events=settings.task_events,
        task_send_sent_event=settings.task_events,
    )
    return app


def _tls(url: str) -> dict[str, Any] | None:
    if urlsplit(url).scheme != "rediss":
        return None
    return {"ssl_cert_reqs": ssl.CERT_REQUIRED}
