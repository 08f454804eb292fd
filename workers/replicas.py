"""A tick commit confirmed by the replicas (``LOOKOUT_REDIS_MIN_REPLICAS``).

The commit runs on the primary and cannot be undone; what a failover to a
replica that lacks it would lose is its run keys, so that the next tick
accepts the same key again.  After each flush of commits the worker waits
for the replicas; if too few confirm in time, the ticks of that flush are
reported as FAILURE naming why, and their runs are not lost but held: a
launcher launches an entry only once the replicas have it (and with it the
run key).  After a failover to a replica without the commit, the next tick
evaluates again from the cursor the replica has and asks for the run anew:
the tick is retried, and its run is launched once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from lookout._base.wire import TickRecord, TickStatus
from lookout._core.settings import Settings
from lookout._core.storage import TickLedger

log = logging.getLogger(__name__)


def unconfirmed_cause(confirmed: int, settings: Settings) -> str:
    """What an unconfirmed tick's record says."""
    return (
        f"commit not confirmed by the Redis replicas: {confirmed} of "
        f"{settings.redis_min_replicas} (LOOKOUT_REDIS_MIN_REPLICAS) acknowledged it within "
        f"{settings.redis_replica_wait:g} s; its effects stay on the primary and its runs "
        "launch once the replicas have them (a failover before that evaluates the tick again)"
    )


def confirm_commits(
    ledger: TickLedger, settings: Settings, records: Sequence[TickRecord | None]
) -> int:
    """Wait for the replicas after a flush; mark its ticks FAILURE if too few confirm.

    Returns how many ticks were marked (0 when confirmed, or not asked for).
    """
    # A FAILURE tick stored no cursor and asked for no run: nothing to lose.
    committed = [r for r in records if r is not None and r.status != TickStatus.FAILURE.value]
    if not committed or settings.redis_min_replicas <= 0:
        return 0
    confirmed = ledger.replicas_confirming(settings.redis_min_replicas, settings.redis_replica_wait)
    if confirmed >= settings.redis_min_replicas:
        return 0
    cause = unconfirmed_cause(confirmed, settings)
    log.error("%d ticks (%s): %s", len(committed), committed[0].sensor, cause)
    return ledger.mark_unconfirmed(committed, cause)
