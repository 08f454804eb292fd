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


def _one(cron: str, after: dt.datetime, tz: dt.tzinfo) -> Iterator[dt.datetime]:
    it = croniter(cron, after.astimezone(tz))
    while True:
        yield it.get_next(dt.datetime)


def cron_iter(cron: CronSpec, after: dt.datetime, tz: dt.tzinfo) -> Iterator[dt.datetime]:
    """The fire times strictly after ``after``, ascending, in ``tz``."""
    if after.tzinfo is None:
        after = after.replace(tzinfo=dt.UTC)
    strings = [cron] if isinstance(cron, str) else list(cron)
    last = None
    for when in heapq.merge(*(_one(s, after, tz) for s in strings)):
        if when != last:
            yield when
            last = when


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
