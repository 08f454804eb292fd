"""Publishing claimed ticks to the Celery tick queue, many ticks per message."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from shared._settings import Settings
from shared._storage import ClaimedTick
from shared._wire import TICK_TASK, TickMessage
from workers.app import make_celery


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


class TickPublisher:
    """Sends batches of ``TickMessage`` to the tick queue as ``TICK_TASK`` calls."""

    def __init__(self, settings: Settings, app: Any = None) -> None:
        self.settings = settings
        # Building the app does no I/O: the broker connection opens on first send.
        self.app = app if app is not None else make_celery(settings)

    def publish(self, ticks: Sequence[ClaimedTick], spread: int = 1) -> int:
        """Publish ``ticks`` in at least ``spread`` messages; returns the number sent."""
        batches = split_evenly(ticks, self.settings.tick_batch_size, spread)
        with self.app.producer_or_acquire() as producer:
            for batch in batches:
                payload = [TickMessage(t.sensor, t.tick_id, t.due_at).to_wire() for t in batch]
                self.app.send_task(
                    TICK_TASK, args=[payload], queue=self.settings.tick_queue, producer=producer
                )
        return len(batches)

    def close(self) -> None:
        self.app.close()
