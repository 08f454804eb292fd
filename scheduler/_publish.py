"""Publishing claimed ticks to the Celery tick queue, many ticks per message."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from lookout._base.wire import TICK_TASK, TickMessage
from lookout._core.settings import Settings
from lookout._core.storage import ClaimedTick
from lookout.workers.app import make_celery


def split_evenly(
    ticks: Sequence[ClaimedTick], max_size: int, min_count: int = 1
) -> list[Sequence[ClaimedTick]]:
    """Batches of near-equal sizes: at least ``min_count`` (one per free worker
    process, so that they evaluate side by side), else as few as ``max_size`` allows.
    """
    if not ticks:
        return []
    count = max(math.ceil(len(ticks) / max(1, max_size)), min(len(ticks), min_count))
    base, extra = divmod(len(ticks), count)
    batches, start = [], 0
    for i in range(count):
        end = start + base + (1 if i < extra else 0)
        batches.append(ticks[start:end])
        start = end
    return batches


class PublishError(Exception):
    """Publishing stopped part way through ``error``: which ticks surely never left.

    ``unsent`` ticks were in no message that was ever handed to the broker:
    the scheduler may give them back.  ``uncertain`` ones were in the message
    whose sending failed: it may have reached the queue all the same (a reply
    lost on the way back), so a worker may be evaluating them.
    """

    def __init__(
        self,
        error: Exception,
        sent: int,
        unsent: Sequence[ClaimedTick],
        uncertain: Sequence[ClaimedTick],
    ) -> None:
        super().__init__(f"publishing ticks failed after {sent} messages: {error}")
        self.error = error
        self.sent = sent
        self.unsent = list(unsent)
        self.uncertain = list(uncertain)


class TickPublisher:
    """Sends batches of ``TickMessage`` to the tick queue as ``TICK_TASK`` calls."""

    def __init__(self, settings: Settings, app: Any = None) -> None:
        self.settings = settings
        # Building the app does no I/O: the broker connection opens on first send.
        self.app = app if app is not None else make_celery(settings)

    def publish(self, ticks: Sequence[ClaimedTick], spread: int = 1) -> int:
        """Publish ``ticks`` in at least ``spread`` messages; returns the number sent.

        Raises ``PublishError`` when a message could not be sent.
        """
        batches = split_evenly(ticks, self.settings.tick_batch_size, spread)
        sent, sending = 0, False
        try:
            with self.app.producer_or_acquire() as producer:
                # Connect before the first message (as a send would, with the
                # same retries): a broker that cannot be reached surely got none.
                producer.connection.ensure_connection(**self.app.conf.task_publish_retry_policy)
                for batch in batches:
                    payload = [TickMessage(t.sensor, t.tick_id, t.due_at).to_wire() for t in batch]
                    sending = True
                    self.app.send_task(
                        TICK_TASK, args=[payload], queue=self.settings.tick_queue, producer=producer
                    )
                    sent, sending = sent + 1, False
        except Exception as exc:
            uncertain = batches[sent] if sending else []
            unsent = [t for batch in batches[sent + (1 if sending else 0) :] for t in batch]
            raise PublishError(exc, sent, unsent, uncertain) from exc
        return len(batches)

    def close(self) -> None:
        self.app.close()
