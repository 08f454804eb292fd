"""A Celery consumer that dead-letters the messages Celery itself cannot read.

Celery drops (acknowledges or rejects) a message whose body does not decode,
whose content type is not accepted (anything but msgpack: invariant 6), or
whose task is unknown, with only a log line.  This consumer first writes the
raw message and the reason to the dead-letter stream, then lets Celery go on
as usual, so the worker keeps consuming.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery.worker.consumer import Consumer

log = logging.getLogger(__name__)

# (source, reason, raw payload, reference)
ConsumerSink = Callable[[str, str, bytes, str | None], None]


def _raw(message: Any) -> bytes:
    body = getattr(message, "body", b"")
    return body if isinstance(body, bytes) else str(body).encode()


def _source(message: Any) -> str:
    info = getattr(message, "delivery_info", None) or {}
    return f"queue:{info.get('routing_key') or info.get('exchange') or '?'}"


def _ref(message: Any) -> str | None:
    headers = getattr(message, "headers", None) or {}
    task_id = headers.get("id") if isinstance(headers, dict) else None
    return str(task_id) if task_id is not None else None


def dead_letter_consumer(sink: ConsumerSink) -> type[Any]:
    """A ``Consumer`` class (for ``app.Worker(consumer_cls=...)``) that reports to ``sink``."""

    def bury(message: Any, reason: str) -> None:
        try:
            sink(_source(message), reason, _raw(message), _ref(message))
        except Exception:
            # Redis away: the message is still logged by Celery below.
            log.exception("could not dead-letter a message (%s)", reason)

    class DeadLetteringConsumer(Consumer):  # type: ignore[misc]
        def on_decode_error(self, message: Any, exc: Exception) -> None:
            bury(message, f"cannot decode the message body ({message.content_type}): {exc}")
            super().on_decode_error(message, exc)

        def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
            bury(message, f"invalid task message: {exc}")
            super().on_invalid_task(body, message, exc)

        def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
            headers = getattr(message, "headers", None) or {}
            bury(message, f"unknown task {headers.get('task')!r}: {exc}")
            super().on_unknown_task(body, message, exc)

        def on_unknown_message(self, body: Any, message: Any) -> None:
            bury(message, "not a Celery task message (no task header)")
            super().on_unknown_message(body, message)

    return DeadLetteringConsumer
