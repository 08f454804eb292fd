"""Publishing claimed ticks to the Celery tick queue, many ticks per message."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from lookout._base.wire import TICK_TASK
from lookout._core.settings import Settings
from lookout._core.storage import ClaimedTick, ClaimedTicks
from lookout.workers.app import make_celery
from lookout.workers.ticks import pack_columns


def batch_sizes(
    due: int,
    *,
    cap: int,
    slots: int = 1,
    least: int = 1,
    backlog: bool = False,
    full: bool = False,
) -> list[int]:
    """How many of ``due`` claimed ticks each message carries: near-equal sizes, at most ``cap``.

    The due load decides.  With a ``backlog`` (every worker process is busy:
    messages wait in the queue, or the round is full right after a full one)
    messages are as large as ``cap`` allows, as each message costs the
    broker, the worker and the scheduler the same whatever it carries.  A
    ``full`` round (more are due right behind it) without a backlog goes out
    in at least two messages when there are two processes: a round as large
    as the cap in one message would keep one process on all of it while the
    other idles.  Otherwise the round is spread over the ``slots`` worker
    processes, so that they evaluate side by side (one slow sensor holds
    back only its own message's), but no message carries fewer than
    ``least`` while more than ``least`` are due: a few ticks in many
    messages would cost more than they gain.
    """
    if due <= 0:
        return []
    count = math.ceil(due / max(1, cap))
    if full and not backlog:
        count = max(count, min(slots, 2, due))
    elif not backlog:
        count = max(count, min(slots, due // max(1, least)))
    base, extra = divmod(due, max(1, count))
    return [base + (1 if i < extra else 0) for i in range(count)]


def split(ticks: ClaimedTicks, sizes: Sequence[int]) -> list[ClaimedTicks]:
    """``ticks`` cut into consecutive batches of ``sizes``."""
    batches, start = [], 0
    for size in sizes:
        batches.append(ticks.part(start, start + size))
        start += size
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
    """Sends batches of ticks to the tick queue as ``TICK_TASK`` calls (``pack_columns``)."""

    def __init__(self, settings: Settings, app: Any = None) -> None:
        self.settings = settings
        # Building the app does no I/O: the broker connection opens on first send.
        self.app = app if app is not None else make_celery(settings)
        # One producer from the app's pool, held from round to round (as
        # Celery's beat holds its own): taking one from the pool for every
        # round re-bound its channel and re-checked its queue, ~15% of an
        # idle-ish scheduler's CPU.  Given back to the pool when a send fails.
        self._producer: Any = None

    def _held_producer(self) -> Any:
        if self._producer is None:
            self._producer = self.app.producer_pool.acquire(
                block=True, timeout=self.app.conf.broker_pool_acquire_timeout
            )
        return self._producer

    def _release_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.release()

    def publish(
        self, ticks: ClaimedTicks, slots: int = 1, *, backlog: bool = False, full: bool = False
    ) -> int:
        """Publish ``ticks`` in messages sized by ``batch_sizes`` for ``slots`` worker
        processes; returns the number sent.

        Raises ``PublishError`` when a message could not be sent.
        """
        sizes = batch_sizes(
            len(ticks),
            cap=self.settings.tick_batch_size,
            slots=slots,
            least=self.settings.tick_batch_min,
            backlog=backlog,
            full=full,
        )
        batches = split(ticks, sizes)
        sent, sending = 0, False
        try:
            producer = self._held_producer()
            # Connect before the first message (as a send would, with the
            # same retries): a broker that cannot be reached surely got none.
            producer.connection.ensure_connection(**self.app.conf.task_publish_retry_policy)
            for batch in batches:
                payload = pack_columns(batch.sensors, batch.id_prefix, batch.ids, batch.due_at)
                sending = True
                # The argument's repr, for Flower and the worker's log,
                # written here: Celery's own (saferepr of every tick) was
                # ~30% of the scheduler's CPU.  Nothing to declare: the tick
                # queue is a direct queue, sent to by its name alone (kombu's
                # check that it was declared copied the queue for every message).
                self.app.send_task(
                    TICK_TASK,
                    args=[payload],
                    queue=self.settings.tick_queue,
                    producer=producer,
                    argsrepr=f"[{len(batch)} ticks: {batch.sensors[0]}, ...]",
                    kwargsrepr="{}",
                    declare=[],
                )
                sent, sending = sent + 1, False
        except Exception as exc:
            self._release_producer()
            uncertain = list(batches[sent]) if sending else []
            unsent = [t for batch in batches[sent + (1 if sending else 0) :] for t in batch]
            raise PublishError(exc, sent, unsent, uncertain) from exc
        return len(batches)

    def close(self) -> None:
        self._release_producer()
        self.app.close()
