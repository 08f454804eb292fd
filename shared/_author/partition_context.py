"""What an op or asset sees of its run's partition: key, key range, time window."""

from __future__ import annotations

from typing import Any, Protocol

from lookout._author.partitions import (
    MultiPartitionKey,
    MultiPartitionsDefinition,
    PartitionKeyRange,
    TimeWindow,
    TimeWindowPartitionsDefinition,
)
from lookout._author.requests import PARTITION_TAG
from lookout._author.runs import RunInfo
from lookout._base.errors import DefinitionError


class _Step(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def partitions_def(self) -> Any: ...


class PartitionContextMixin:
    """``partition_key``, ``partition_key_range``, ``partition_time_window``, as in Dagster."""

    _run: RunInfo
    _step: _Step

    @property
    def has_partition_key(self) -> bool:
        return PARTITION_TAG in self._run.tags

    @property
    def partition_key(self) -> str:
        key = self._run.tags.get(PARTITION_TAG)
        if key is None:
            raise DefinitionError(f"step '{self._step.name}' runs without a partition key")
        partitions_def: Any = self._step.partitions_def
        if isinstance(partitions_def, MultiPartitionsDefinition):
            return MultiPartitionKey(
                dict(zip(partitions_def.partitions_defs, key.split("|"), strict=False))
            )
        return key

    @property
    def partition_keys(self) -> list[str]:
        return [self.partition_key]

    @property
    def partition_key_range(self) -> PartitionKeyRange:
        return PartitionKeyRange(self.partition_key, self.partition_key)

    def asset_partition_key_for_output(self, output_name: str = "result") -> str:
        return self.partition_key

    @property
    def partition_time_window(self) -> TimeWindow:
        partitions_def = self._step.partitions_def
        if not isinstance(partitions_def, TimeWindowPartitionsDefinition):
            raise DefinitionError(
                f"step '{self._step.name}' is not partitioned by time windows, so it has no "
                "partition_time_window"
            )
        return partitions_def.time_window_for_partition_key(self.partition_key)
