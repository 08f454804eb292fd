"""Cron strings and time zones: validation at definition time and fire times after an instant.

Parsing and iteration are croniter's.  Times are computed in the schedule's
own time zone, so "0 9 * * *" in ``Europe/Berlin`` fires at 09:00 local time
on both sides of a DST change.
"""

from __future__ import annotations

import datetime as dt
import heapq
import zoneinfo
from collections.abc import Iterator, Sequence

from croniter import croniter

from lookout._base.errors import DefinitionError

CronSpec = str | Sequence[str]


def zone(name: str, what: str) -> zoneinfo.ZoneInfo:
    """The time zone named ``name``; a clear error naming ``what`` when there is none."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise DefinitionError(f"{what}: unknown time zone '{name}'") from None


def parse_cron(cron_schedule: CronSpec, what: str) -> CronSpec:
    """Check a cron string (or each of a list) now, so a bad one fails at load time."""
    strings = [cron_schedule] if isinstance(cron_schedule, str) else list(cron_schedule)
    if not strings:
        raise DefinitionError(f"{what}: empty cron schedule")
    for s in strings:
        if not isinstance(s, str) or not croniter.is_valid(s) or len(s.split()) not in (1, 5):
            raise DefinitionError(f"{what}: invalid cron schedule {s!r}")
    return cron_schedule if isinstance(cron_schedule, str) else tuple(strings)


def _exists(wall: dt.datetime, tz: dt.tzinfo) -> bool:
    aware = wall.replace(tzinfo=tz)
    return aware.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) == wall


def _ambiguous(wall: dt.datetime, tz: dt.tzinfo) -> bool:
    return (
        wall.replace(tzinfo=tz, fold=0).utcoffset() != wall.replace(tzinfo=tz, fold=1).utcoffset()
    )


def repeats_every_hour(cron: str) -> bool:
    """A cron string that fires in every hour (Dagster fires it in both repeated hours)."""
    fields = cron.split()
    return len(fields) == 5 and fields[1] == "*" and fields[0] != "*"


def _localized(wall: dt.datetime, tz: dt.tzinfo, hourly: bool) -> list[dt.datetime]:
    """A wall-clock fire time as instants, with Dagster's rules for DST changes.

    A time skipped by the spring change fires when the change ends; a time
    repeated by the autumn change fires once, at its later occurrence,
    unless the schedule fires every hour, which fires in both.
    """
    if not _exists(wall, tz):
        start = wall.replace(minute=0, second=0, microsecond=0)
        jump = wall.replace(tzinfo=tz, fold=1).utcoffset() or dt.timedelta()
        before = wall.replace(tzinfo=tz, fold=0).utcoffset() or dt.timedelta()
        return [(start + abs(jump - before)).replace(tzinfo=tz)]
    if _ambiguous(wall, tz):
        later = wall.replace(tzinfo=tz, fold=1)
        return [wall.replace(tzinfo=tz, fold=0), later] if hourly else [later]
    return [wall.replace(tzinfo=tz)]


def _one(cron: str, after: dt.datetime, tz: dt.tzinfo) -> Iterator[dt.datetime]:
    # Iterate wall-clock times in the zone and localize each, so a DST change
    # neither shifts the local time of day nor loses or doubles a tick.
    hourly = repeats_every_hour(cron)
    start = (after - dt.timedelta(hours=3)).astimezone(tz).replace(tzinfo=None)
    it = croniter(cron, start)
    while True:
        for when in _localized(it.get_next(dt.datetime), tz, hourly):
            # Compared as instants: within one zone Python ignores ``fold``.
            if when.timestamp() > after.timestamp():
                yield when


def cron_iter(cron: CronSpec, after: dt.datetime, tz: dt.tzinfo) -> Iterator[dt.datetime]:
    """The fire times strictly after ``after``, ascending, in ``tz``."""
    if after.tzinfo is None:
        after = after.replace(tzinfo=dt.UTC)
    strings = [cron] if isinstance(cron, str) else list(cron)
    last = None
    for when in heapq.merge(*(_one(s, after, tz) for s in strings), key=_instant):
        if _instant(when) != last:
            yield when
            last = _instant(when)


def _instant(when: dt.datetime) -> float:
    return when.timestamp()


def next_fire_times(
    cron_schedule: CronSpec,
    after: float | dt.datetime,
    count: int = 1,
    timezone: str = "UTC",
) -> list[dt.datetime]:
    """The next ``count`` times a cron schedule fires after ``after`` (epoch s or datetime)."""
    tz = zone(timezone, "cron schedule")
    start = dt.datetime.fromtimestamp(after, dt.UTC) if isinstance(after, int | float) else after
    out: list[dt.datetime] = []
    for when in cron_iter(cron_schedule, start, tz):
        if len(out) >= count:
            break
        out.append(when)
    return out
