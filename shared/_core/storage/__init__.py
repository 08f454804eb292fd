"""Storage: the only code that talks to Redis.

The key layout is documented in one place, ``lookout._core.keys``; every multi-key
change that must be atomic is a Lua script in ``lookout._core.scripts``.  The
storage is split by area into mixins that share one client and key layout;
domain objects never call Redis, they hand wire types to the storage.
"""

from __future__ import annotations

from lookout._core.storage._base import BRIEF, PATIENT, Patience, StoreBase, redis_client
from lookout._core.storage.dead_letters import DeadLetterStore
from lookout._core.storage.metrics import MetricsStore, SensorCounts, StreamBacklog
from lookout._core.storage.processes import ProcessInfo, ProcessStore
from lookout._core.storage.runs import Created, RunStore
from lookout._core.storage.scheduling import (
    ClaimedTick,
    ClaimRound,
    SchedulingStore,
    Trigger,
    TriggerOutcome,
    Wakeup,
)
from lookout._core.storage.sensors import SensorState, SensorStore, TickCommit, decode_entry
from lookout._core.storage.tick_marks import TickMarkStore


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
    "BRIEF",
    "PATIENT",
    "ClaimRound",
    "ClaimedTick",
    "Created",
    "MetricsStore",
    "Patience",
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
