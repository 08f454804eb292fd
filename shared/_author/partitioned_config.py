"""Partitioned config: a job's run config computed from the partition it runs.

``@daily_partitioned_config(start_date=...)`` and its siblings decorate a
function of the partition's time window (or key) that returns the run
config; ``@job(config=...)`` with one makes the job partitioned.  A run
request for a partition of such a job gets its config from here when it
brings none of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from lookout._author.config import run_config_dict
from lookout._author.partitions import (
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    DynamicPartitionsStore,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    PartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)
from lookout._author.requests import RunRequest


class PartitionedConfig:
    """A partitions definition and the run config (and tags) of each of its partitions."""

    def __init__(
        self,
        partitions_def: PartitionsDefinition,
        run_config_for_partition_key_fn: Callable[[str], Any] | None = None,
        decorated_fn: Callable[..., Any] | None = None,
        tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
    ) -> None:
        self.partitions_def = partitions_def
        self._config_fn = run_config_for_partition_key_fn or (lambda _key: {})
        self._tags_fn = tags_for_partition_key_fn
        self._decorated = decorated_fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._decorated is None:
            raise TypeError("this PartitionedConfig was not made by a decorator")
        return self._decorated(*args, **kwargs)

    def get_partition_keys(
        self,
        current_time: dt.datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        return self.partitions_def.get_partition_keys(current_time, dynamic_partitions_store)

    def get_run_config_for_partition_key(self, partition_key: str) -> dict[str, Any]:
        return run_config_dict(self._config_fn(partition_key))

    def get_tags_for_partition_key(self, partition_key: str) -> dict[str, str]:
        return dict(self._tags_fn(partition_key)) if self._tags_fn else {}


def with_partition_config(request: RunRequest, config: PartitionedConfig | None) -> RunRequest:
    """A partition's run config and tags filled in where the request brings none."""
    if config is None or request.partition_key is None:
        return request
    run_config = request.run_config or config.get_run_config_for_partition_key(
        request.partition_key
    )
    tags = {**config.get_tags_for_partition_key(request.partition_key), **request.tags}
    return replace(request, run_config=run_config, tags=tags)


def _time_config(
    partitions_def: TimeWindowPartitionsDefinition,
    tags_for_partition_fn: Callable[[dt.datetime, dt.datetime], Mapping[str, str]] | None,
) -> Callable[[Callable[[dt.datetime, dt.datetime], Any]], PartitionedConfig]:
    def window(key: str) -> tuple[dt.datetime, dt.datetime]:
        return partitions_def.time_window_for_partition_key(key)

    def wrap(fn: Callable[[dt.datetime, dt.datetime], Any]) -> PartitionedConfig:
        tags = (lambda key: tags_for_partition_fn(*window(key))) if tags_for_partition_fn else None
        return PartitionedConfig(partitions_def, lambda key: fn(*window(key)), fn, tags)

    return wrap


TimeTags = Callable[[dt.datetime, dt.datetime], Mapping[str, str]] | None
TimeDecorator = Callable[[Callable[[dt.datetime, dt.datetime], Any]], PartitionedConfig]


def daily_partitioned_config(
    start_date: str | dt.datetime,
    minute_offset: int = 0,
    hour_offset: int = 0,
    timezone: str | None = None,
    fmt: str | None = None,
    end_offset: int = 0,
    tags_for_partition_fn: TimeTags = None,
) -> TimeDecorator:
    """Config per day: the function gets each day's start and end."""
    partitions_def = DailyPartitionsDefinition(
        start_date, None, minute_offset, hour_offset, timezone, fmt, end_offset
    )
    return _time_config(partitions_def, tags_for_partition_fn)


def hourly_partitioned_config(
    start_date: str | dt.datetime,
    minute_offset: int = 0,
    timezone: str | None = None,
    fmt: str | None = None,
    end_offset: int = 0,
    tags_for_partition_fn: TimeTags = None,
) -> TimeDecorator:
    """Config per hour: the function gets each hour's start and end."""
    partitions_def = HourlyPartitionsDefinition(
        start_date, None, minute_offset, timezone, fmt, end_offset
    )
    return _time_config(partitions_def, tags_for_partition_fn)


def weekly_partitioned_config(
    start_date: str | dt.datetime,
    minute_offset: int = 0,
    hour_offset: int = 0,
    day_offset: int = 0,
    timezone: str | None = None,
    fmt: str | None = None,
    end_offset: int = 0,
    tags_for_partition_fn: TimeTags = None,
) -> TimeDecorator:
    """Config per week: the function gets each week's start and end."""
    partitions_def = WeeklyPartitionsDefinition(
        start_date, None, minute_offset, hour_offset, day_offset, timezone, fmt, end_offset
    )
    return _time_config(partitions_def, tags_for_partition_fn)


def monthly_partitioned_config(
    start_date: str | dt.datetime,
    minute_offset: int = 0,
    hour_offset: int = 0,
    day_offset: int = 1,
    timezone: str | None = None,
    fmt: str | None = None,
    end_offset: int = 0,
    tags_for_partition_fn: TimeTags = None,
) -> TimeDecorator:
    """Config per month: the function gets each month's start and end."""
    partitions_def = MonthlyPartitionsDefinition(
        start_date, None, minute_offset, hour_offset, day_offset, timezone, fmt, end_offset
    )
    return _time_config(partitions_def, tags_for_partition_fn)


def static_partitioned_config(
    partition_keys: Sequence[str],
    tags_for_partition_fn: Callable[[str], Mapping[str, str]] | None = None,
    tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[str], Any]], PartitionedConfig]:
    """Config per key of a fixed list: the function gets the key."""
    partitions_def = StaticPartitionsDefinition(partition_keys)

    def wrap(fn: Callable[[str], Any]) -> PartitionedConfig:
        tags = tags_for_partition_key_fn or tags_for_partition_fn
        return PartitionedConfig(partitions_def, fn, fn, tags)

    return wrap


def dynamic_partitioned_config(
    partition_fn: Callable[[dt.datetime | None], Sequence[str]],
    tags_for_partition_fn: Callable[[str], Mapping[str, str]] | None = None,
    tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[str], Any]], PartitionedConfig]:
    """Config per key of a function's list of keys: the function gets the key."""
    partitions_def = DynamicPartitionsDefinition(partition_fn=partition_fn)

    def wrap(fn: Callable[[str], Any]) -> PartitionedConfig:
        tags = tags_for_partition_key_fn or tags_for_partition_fn
        return PartitionedConfig(partitions_def, fn, fn, tags)

    return wrap
