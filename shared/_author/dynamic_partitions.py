"""The dynamic partitions of an in-process instance (``instance_for_test``, ``ephemeral()``).

A deployment keeps them in Redis; a test keeps them in the instance object,
with the same methods Dagster's ``DagsterInstance`` has.  The instance is
also a context manager, as Dagster's test instances are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from lookout._author.partitions import AddDynamicPartitionsRequest, DeleteDynamicPartitionsRequest


class DynamicPartitionsMixin:
    """Keys per dynamic partitions definition name, in the order they were added."""

    _dynamic_partitions: dict[str, list[str]]

    def _partitions(self, name: str) -> list[str]:
        store = self.__dict__.setdefault("_dynamic_partitions", {})
        keys: list[str] = store.setdefault(name, [])
        return keys

    def get_dynamic_partitions(self, partitions_def_name: str) -> list[str]:
        return list(self._partitions(partitions_def_name))

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        return partition_key in self._partitions(partitions_def_name)

    def add_dynamic_partitions(
        self, partitions_def_name: str, partition_keys: Sequence[str]
    ) -> None:
        keys = self._partitions(partitions_def_name)
        keys.extend(k for k in dict.fromkeys(partition_keys) if k not in keys)

    def delete_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> None:
        keys = self._partitions(partitions_def_name)
        if partition_key in keys:
            keys.remove(partition_key)

    def apply_dynamic_partitions_requests(
        self, requests: Sequence[AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest]
    ) -> None:
        """Apply a sensor result's add and delete requests, in order."""
        for request in requests:
            if isinstance(request, AddDynamicPartitionsRequest):
                self.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
            else:
                for key in request.partition_keys:
                    self.delete_dynamic_partition(request.partitions_def_name, key)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
