"""Which Redis and broker errors are transient: the one list every retry loop uses.

A transient error is one that waiting cures: Redis restarting, unreachable,
stalled past the socket timeout, still loading its data, restarted without
the scripts it had, a replica not yet promoted, or full until something is
freed.  Every process's retry loop (the
scheduler's round, the launcher's read, a worker's tick and run tasks, the
broker's restore of unacknowledged messages) catches exactly these, waits and
tries again (invariant 7).  Anything else (a script error, a key of the wrong
type, an ACL that forbids a command) is a fault that waiting does not cure: it
is reported, not retried in silence.
"""

from __future__ import annotations

import redis
from kombu.exceptions import OperationalError
from redis.exceptions import (
    MasterDownError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    TryAgainError,
)

from lookout._base.errors import ReplicasBehindError

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    # Refused, reset, closed, or a reply that did not come within the socket
    # timeout; includes BusyLoadingError (Redis loading its AOF after a restart).
    redis.ConnectionError,
    redis.TimeoutError,
    # A failover in progress: writes reach a replica, or it has lost its primary.
    ReadOnlyError,
    MasterDownError,
    TryAgainError,
    # A script a restarted Redis no longer has, sent by a pipeline that had
    # checked it before the restart: the next call checks again and loads it.
    NoScriptError,
    # maxmemory reached under noeviction: retried until memory is freed.
    OutOfMemoryError,
    # Fewer replicas than LOOKOUT_REDIS_MIN_REPLICAS confirmed the writes: they
    # catch up (a launcher launches nothing it read until they do).
    ReplicasBehindError,
    # kombu's wrapper for a broker it cannot reach (publishing).
    OperationalError,
    # A socket error neither library wrapped (refused, reset, broken pipe, a
    # socket timeout); not any OSError: a missing file is no network fault.
    ConnectionError,
    TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    """True when waiting and trying again may succeed."""
    return isinstance(exc, TRANSIENT_ERRORS)
