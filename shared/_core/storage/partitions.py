"""Dynamic partitions in Redis: what ``context.instance`` answers on a worker.

A tick changes them atomically with its commit (``TickLedger``); this
repository reads them, bounded, and changes them outside a tick, as
Dagster's ``instance.add_dynamic_partitions`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from lookout._base.errors import LookoutError
from lookout._core.keys import Keys
from lookout._core.storage._base import Repository
from lookout._core.streams import text

# Keys read per round trip, and at most per definition: a definition grown
# past the cap is an error that says so, not a worker that runs out of memory.
PAGE = 10_000
MAX_KEYS = 1_000_000


class TooManyPartitionsError(LookoutError):
    """A dynamic partitions definition holds more keys than one read may return."""


class DynamicPartitionStore(Repository):
    """Each dynamic partitions definition's keys, in the order they were added."""

    def __init__(self, client: redis.Redis, keys: Keys, max_keys: int = MAX_KEYS) -> None:
        super().__init__(client, keys)
        self.max_keys = max_keys
        self._add = self._script("add_partitions")

    def get_dynamic_partitions(self, partitions_def_name: str) -> list[str]:
        """Every key of the definition, oldest first, read a page at a time."""
        zset = self.keys.partitions(partitions_def_name)
        total = int(self.client.zcard(zset))
        if total > self.max_keys:
            raise TooManyPartitionsError(
                f"dynamic partitions '{partitions_def_name}' has {total} keys, more than the "
                f"{self.max_keys} one read may return"
            )
        out: list[str] = []
        for start in range(0, total, PAGE):
            out += [text(k) for k in self.client.zrange(zset, start, start + PAGE - 1)]
        return out

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        zset = self.keys.partitions(partitions_def_name)
        return self.client.zscore(zset, partition_key) is not None

    def add_dynamic_partitions(
        self, partitions_def_name: str, partition_keys: Sequence[str]
    ) -> int:
        """Add keys (absent ones after the others); returns how many were new."""
        if not partition_keys:
            return 0
        zset = self.keys.partitions(partitions_def_name)
        return int(self._add(keys=[zset], args=list(partition_keys)))

    def delete_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> None:
        self.client.zrem(self.keys.partitions(partitions_def_name), partition_key)
