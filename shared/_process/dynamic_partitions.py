"""Dagster's dynamic partitions methods of ``context.instance`` on a worker, over Redis.

A sensor or schedule evaluated on a worker reads (and may change) dynamic
partitions through the same methods Dagster's ``DagsterInstance`` has.  A
``SensorResult``'s requests are not applied here: the tick's commit applies
them atomically with its run requests.  ``RedisDynamicPartitions`` is an
instance on its own, or a base of a fuller runtime instance.
"""

from __future__ import annotations

from collections.abc import Sequence

from lookout._core.storage import DynamicPartitionStore


class RedisDynamicPartitions:
    """The dynamic partitions part of Dagster's instance, read from and written to Redis."""

    def __init__(self, partitions: DynamicPartitionStore) -> None:
        self._partitions = partitions

    def get_dynamic_partitions(self, partitions_def_name: str) -> list[str]:
        return self._partitions.get_dynamic_partitions(partitions_def_name)

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        return self._partitions.has_dynamic_partition(partitions_def_name, partition_key)

    def add_dynamic_partitions(
        self, partitions_def_name: str, partition_keys: Sequence[str]
    ) -> None:
        self._partitions.add_dynamic_partitions(partitions_def_name, partition_keys)

    def delete_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> None:
        self._partitions.delete_dynamic_partition(partitions_def_name, partition_key)
