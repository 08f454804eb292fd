"""Partitions definitions: static, time windows, dynamic and multi-dimensional.

Keys and their order are Dagster's: a time window's key is its start in the
definition's format and time zone; a window is a partition once it has ended
(``end_offset`` moves that boundary); a multi-partition key joins its
dimensions' keys with ``|`` in the order of the dimension names.
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import datetime as dt
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from lookout._author.cron import cron_iter, parse_cron, zone
from lookout._base.errors import DefinitionError


class DynamicPartitionsStore(Protocol):
    def get_dynamic_partitions(self, partitions_def_name: str) -> Sequence[str]: ...


@dataclass(frozen=True)
class _Loading:
    effective_dt: dt.datetime | None
    store: DynamicPartitionsStore | None


# What ``partition_loading_context`` set for this thread or task, if anything.
_loading: contextvars.ContextVar[_Loading | None] = contextvars.ContextVar(
    "lookout_partition_loading", default=None
)


@contextlib.contextmanager
def partition_loading_context(
    effective_dt: dt.datetime | None = None,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
) -> Iterator[None]:
    """Within it, partitions are listed as of ``effective_dt`` and read dynamic keys from
    ``dynamic_partitions_store`` when a call gives neither."""
    token = _loading.set(_Loading(effective_dt, dynamic_partitions_store))
    try:
        yield
    finally:
        _loading.reset(token)


def _now(current_time: dt.datetime | None) -> dt.datetime:
    loading = _loading.get()
    now = current_time or (loading.effective_dt if loading else None) or dt.datetime.now(dt.UTC)
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


def _store(given: DynamicPartitionsStore | None) -> DynamicPartitionsStore | None:
    loading = _loading.get()
    return given if given is not None else (loading.store if loading else None)


class PartitionKeyRange(NamedTuple):
    start: str
    end: str


class TimeWindow(NamedTuple):
    start: dt.datetime
    end: dt.datetime


class PartitionsDefinition(abc.ABC):
    """The partitions a job or asset is split into, each named by a string key."""

    @abc.abstractmethod
    def get_partition_keys(
        self,
        current_time: dt.datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """Every partition key, in order (as of ``current_time``, from the store if dynamic)."""

    def has_partition_key(
        self,
        partition_key: str,
        current_time: dt.datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        return partition_key in self.get_partition_keys(current_time, dynamic_partitions_store)

    def get_first_partition_key(
        self,
        current_time: dt.datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str | None:
        keys = self.get_partition_keys(current_time, dynamic_partitions_store)
        return keys[0] if keys else None

    def get_last_partition_key(
        self,
        current_time: dt.datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str | None:
        keys = self.get_partition_keys(current_time, dynamic_partitions_store)
        return keys[-1] if keys else None

    def get_partition_keys_in_range(
        self,
        partition_key_range: PartitionKeyRange,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        keys = self.get_partition_keys(None, dynamic_partitions_store)
        for key in partition_key_range:
            if key not in keys:
                raise DefinitionError(f"Could not find a partition with key `{key}`.")
        lo, hi = keys.index(partition_key_range.start), keys.index(partition_key_range.end)
        return keys[lo : hi + 1]


class StaticPartitionsDefinition(PartitionsDefinition):
    """A fixed list of keys."""

    def __init__(self, partition_keys: Sequence[str]) -> None:
        keys = list(partition_keys)
        bad = [k for k in keys if not isinstance(k, str)]
        if bad:
            raise DefinitionError(f"static partition keys must be strings, got {bad!r}")
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise DefinitionError(f"duplicate static partition keys {dupes}")
        self._keys = keys

    def get_partition_keys(
        self,
        current_time: dt.datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        return list(self._keys)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StaticPartitionsDefinition) and other._keys == self._keys

    def __hash__(self) -> int:
        return hash(tuple(self._keys))

    def __repr__(self) -> str:
        return f"StaticPartitionsDefinition({self._keys!r})"


def _just_before(when: dt.datetime) -> dt.datetime:
    # In UTC: wall-clock arithmetic in the zone would drop ``fold``.
    return when.astimezone(dt.UTC) - dt.timedelta(seconds=1)


def _parse_start(value: str | dt.datetime, fmt: str, tz: dt.tzinfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    parsers = (
        lambda v: dt.datetime.strptime(v, fmt),
        lambda v: dt.datetime.strptime(v, fmt + "%z"),  # the later of a repeated hour
        dt.datetime.fromisoformat,
    )
    for parse in parsers:
        try:
            parsed = parse(value)
        except ValueError:
            continue
        return parsed.astimezone(tz) if parsed.tzinfo else parsed.replace(tzinfo=tz)
    raise DefinitionError(f"date '{value}' does not match the format '{fmt}'")


class TimeWindowPartitionsDefinition(PartitionsDefinition):
    """One partition per cron interval from ``start`` (to ``end``, exclusive)."""

    def __init__(
        self,
        start: str | dt.datetime,
        fmt: str,
        end: str | dt.datetime | None = None,
        timezone: str | None = None,
        end_offset: int = 0,
        cron_schedule: str | None = None,
    ) -> None:
        self.timezone = timezone or "UTC"
        tz = zone(self.timezone, "partitions definition")
        if cron_schedule is None:
            raise DefinitionError("TimeWindowPartitionsDefinition needs a cron_schedule")
        self.cron_schedule = parse_cron(cron_schedule, "partitions definition")
        self.fmt = fmt
        self.start = _parse_start(start, fmt, tz).astimezone(tz)
        self.end = None if end is None else _parse_start(end, fmt, tz).astimezone(tz)
        self.end_offset = end_offset
        self._tz = tz

    def _starts(self) -> Iterator[dt.datetime]:
        # The first window starts at the first cron tick at or after ``start``.
        return cron_iter(self.cron_schedule, _just_before(self.start), self._tz)

    def _windows(self, current_time: dt.datetime | None) -> Iterator[TimeWindow]:
        now = _now(current_time)
        ticks = self._starts()
        start = next(ticks)
        ended: list[TimeWindow] = []
        future = 0
        for end in ticks:
            window = TimeWindow(start, end)
            if self.end is not None and start >= self.end:
                break
            if end > now:
                future += 1
                if future > self.end_offset:
                    break
            ended.append(window)
            start = end
        if self.end_offset < 0:
            ended = ended[: len(ended) + self.end_offset]
        return iter(ended)

    def get_partition_keys(
        self,
        current_time: dt.datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        return [self.key_for(w.start) for w in self._windows(current_time)]

    def key_for(self, start: dt.datetime) -> str:
        """A window's key: its start in the format; the later of a repeated hour adds its
        UTC offset, as Dagster keys it."""
        key = start.strftime(self.fmt)
        if start.fold and start.replace(fold=0).utcoffset() != start.utcoffset():
            key += start.strftime("%z")
        return key

    def time_window_for_partition_key(self, partition_key: str) -> TimeWindow:
        start = _parse_start(partition_key, self.fmt, self._tz)
        ticks = cron_iter(self.cron_schedule, _just_before(start), self._tz)
        first = next(ticks)
        if self.key_for(first) != partition_key:
            raise DefinitionError(f"Could not find a partition with key `{partition_key}`.")
        return TimeWindow(first, next(ticks))

    def get_partition_keys_between(self, start: dt.datetime, end: dt.datetime) -> list[str]:
        return [
            self.key_for(w.start) for w in self._windows(end) if w.start >= start and w.end <= end
        ]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TimeWindowPartitionsDefinition) and (
            (other.start, other.end, other.fmt, other.cron_schedule, other.timezone)
            == (self.start, self.end, self.fmt, self.cron_schedule, self.timezone)
        )

    def __hash__(self) -> int:
        return hash((self.start, self.fmt, self.cron_schedule, self.timezone))


def _time_def(
    start_date: str | dt.datetime,
    end_date: str | dt.datetime | None,
    cron: str,
    timezone: str | None,
    fmt: str,
    end_offset: int,
) -> dict[str, Any]:
    return {
        "start": start_date,
        "fmt": fmt,
        "end": end_date,
        "timezone": timezone,
        "end_offset": end_offset,
        "cron_schedule": cron,
    }


class DailyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per day, keyed ``%Y-%m-%d``."""

    def __init__(
        self,
        start_date: str | dt.datetime,
        end_date: str | dt.datetime | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        cron = f"{minute_offset} {hour_offset} * * *"
        super().__init__(
            **_time_def(start_date, end_date, cron, timezone, fmt or "%Y-%m-%d", end_offset)
        )


class HourlyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per hour, keyed ``%Y-%m-%d-%H:%M``."""

    def __init__(
        self,
        start_date: str | dt.datetime,
        end_date: str | dt.datetime | None = None,
        minute_offset: int = 0,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        cron = f"{minute_offset} * * * *"
        super().__init__(
            **_time_def(start_date, end_date, cron, timezone, fmt or "%Y-%m-%d-%H:%M", end_offset)
        )


class WeeklyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per week, starting on ``day_offset`` (0 = Sunday), keyed ``%Y-%m-%d``."""

    def __init__(
        self,
        start_date: str | dt.datetime,
        end_date: str | dt.datetime | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        day_offset: int = 0,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        cron = f"{minute_offset} {hour_offset} * * {day_offset}"
        super().__init__(
            **_time_def(start_date, end_date, cron, timezone, fmt or "%Y-%m-%d", end_offset)
        )


class MonthlyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per month, starting on day ``day_offset`` (1 by default)."""

    def __init__(
        self,
        start_date: str | dt.datetime,
        end_date: str | dt.datetime | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        day_offset: int = 1,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        cron = f"{minute_offset} {hour_offset} {day_offset} * *"
        super().__init__(
            **_time_def(start_date, end_date, cron, timezone, fmt or "%Y-%m-%d", end_offset)
        )


@dataclass(frozen=True)
class AddDynamicPartitionsRequest:
    """Add keys to a dynamic partitions definition (from a sensor's result)."""

    partitions_def_name: str
    partition_keys: Sequence[str]


@dataclass(frozen=True)
class DeleteDynamicPartitionsRequest:
    """Delete keys from a dynamic partitions definition (from a sensor's result)."""

    partitions_def_name: str
    partition_keys: Sequence[str]


class DynamicPartitionsDefinition(PartitionsDefinition):
    """Keys added and removed at run time, kept by the instance under ``name``."""

    def __init__(self, name: str | None = None, partition_fn: Any = None) -> None:
        if name is None and partition_fn is None:
            raise DefinitionError("DynamicPartitionsDefinition needs a name")
        self.name = name
        self.partition_fn = partition_fn

    def get_partition_keys(
        self,
        current_time: dt.datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        if self.partition_fn is not None:
            return [str(k) for k in self.partition_fn(current_time)]
        dynamic_partitions_store = _store(dynamic_partitions_store)
        if dynamic_partitions_store is None or self.name is None:
            raise DefinitionError(
                f"dynamic partitions '{self.name}' need an instance to read their keys from"
            )
        return list(dynamic_partitions_store.get_dynamic_partitions(self.name))

    def build_add_request(self, partition_keys: Sequence[str]) -> AddDynamicPartitionsRequest:
        return AddDynamicPartitionsRequest(self._name(), list(partition_keys))

    def build_delete_request(self, partition_keys: Sequence[str]) -> DeleteDynamicPartitionsRequest:
        return DeleteDynamicPartitionsRequest(self._name(), list(partition_keys))

    def _name(self) -> str:
        if self.name is None:
            raise DefinitionError("a DynamicPartitionsDefinition without a name has no store")
        return self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DynamicPartitionsDefinition) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("dynamic", self.name))


class MultiPartitionKey(str):
    """A key of a multi-partitions definition: one key per dimension, joined by ``|``."""

    keys_by_dimension: dict[str, str]

    def __new__(cls, keys_by_dimension: Mapping[str, str]) -> MultiPartitionKey:
        ordered = sorted(keys_by_dimension.items())
        key = super().__new__(cls, "|".join(v for _, v in ordered))
        key.keys_by_dimension = dict(ordered)
        return key

    def __repr__(self) -> str:
        return f"{str(self)!r}"


class MultiPartitionsDefinition(PartitionsDefinition):
    """The product of two partitions definitions, each a named dimension."""

    def __init__(self, partitions_defs: Mapping[str, PartitionsDefinition]) -> None:
        if len(partitions_defs) != 2:
            raise DefinitionError("MultiPartitionsDefinition takes exactly two dimensions")
        self.partitions_defs = dict(sorted(partitions_defs.items()))

    @property
    def partition_dimension_names(self) -> list[str]:
        return list(self.partitions_defs)

    def get_partition_keys(
        self,
        current_time: dt.datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        names = list(self.partitions_defs)
        per_dim = [
            d.get_partition_keys(current_time, dynamic_partitions_store)
            for d in self.partitions_defs.values()
        ]
        return [
            MultiPartitionKey(dict(zip(names, combo, strict=True)))
            for combo in itertools.product(*per_dim)
        ]

    def get_partition_key_from_str(self, partition_key_str: str) -> MultiPartitionKey:
        parts = partition_key_str.split("|")
        if len(parts) != len(self.partitions_defs):
            raise DefinitionError(f"Could not find a partition with key `{partition_key_str}`.")
        return MultiPartitionKey(dict(zip(self.partitions_defs, parts, strict=True)))
