"""Storage: the only code that talks to Redis.

The key layout is documented in one place, ``shared._keys``; every multi-key
change that must be atomic is a Lua script in ``shared._scripts``.  The
storage is split by area into mixins that share one client and key layout;
domain objects never call Redis, they hand wire types to the storage.
"""

from __future__ import annotations

from shared._storage._base import StoreBase, redis_client
from shared._storage.dead_letters import DeadLetterStore
from shared._storage.metrics import MetricsStore, SensorCounts, StreamBacklog
from shared._storage.processes import ProcessInfo, ProcessStore
from shared._storage.runs import Created, RunStore
from shared._storage.scheduling import (
    ClaimedTick,
    ClaimRound,
    SchedulingStore,
    Trigger,
    TriggerOutcome,
    Wakeup,
)
from shared._storage.sensors import SensorState, SensorStore, TickCommit, decode_entry
from shared._storage.tick_marks import TickMarkStore


class Storage(
    RunStore,
    DeadLetterStore,
    MetricsStore,
    SchedulingStore,
    ProcessStore,
    SensorStore,
    TickMarkStore,
    StoreBase,
):
    """Everything lookout keeps in Redis."""


__all__ = [
    "ClaimRound",
    "ClaimedTick",
    "Created",
    "MetricsStore",
    "ProcessInfo",
    "ProcessStore",
    "SchedulingStore",
    "SensorCounts",
    "SensorState",
    "Storage",
    "StoreBase",
    "StreamBacklog",
    "TickCommit",
    "Trigger",
    "TriggerOutcome",
    "Wakeup",
    "decode_entry",
    "redis_client",
]
