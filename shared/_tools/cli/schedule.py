"""``lookout schedule ...``: list, start and stop the schedules of a code location.

Kept thin: the table is plain columns; the operator functions do the work.
"""

from __future__ import annotations

import datetime as dt

import click

from lookout._tools.cli._json import dumps
from lookout._tools.cli._options import (
    json_option,
    location_options,
    open_location,
    redis_options,
    reports_errors,
    settings_from,
)
from lookout._tools.cli._status import add_status_commands
from lookout._tools.operator import ScheduleRow, list_schedules, set_schedule_status


@click.group("schedule")
def schedule_group() -> None:
    """Inspect and operate the schedules of a code location."""


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _row_json(row: ScheduleRow) -> dict[str, object]:
    last = row.last_tick
    return {
        "name": row.name,
        "cron_schedule": row.cron,
        "timezone": row.timezone,
        "job": row.job,
        "status": row.status,
        "next_tick": row.next_fire,
        "last_tick": None if last is None else {"status": last.status, "at": last.started_at},
    }


def _table(rows: list[ScheduleRow]) -> str:
    header = ("NAME", "CRON", "TIMEZONE", "JOB", "STATUS", "NEXT TICK", "LAST TICK")
    lines = [
        (
            r.name,
            r.cron,
            r.timezone,
            r.job or "-",
            r.status,
            _when(r.next_fire),
            r.last_tick.status if r.last_tick else "-",
        )
        for r in rows
    ]
    widths = [max(len(c) for c in col) for col in zip(header, *lines, strict=True)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *lines)
    )


@schedule_group.command("list")
@json_option
@location_options
@redis_options
@reports_errors
def list_command(
    as_json: bool, module: str | None, file: str | None, redis_url: str | None, prefix: str | None
) -> None:
    """Schedules with their cron, time zone, job, status and next tick."""
    defs, storage = open_location(module, file, settings_from(redis_url, prefix))
    rows = list_schedules(defs, storage.sensors, storage.schedule)
    click.echo(dumps([_row_json(r) for r in rows]) if as_json else _table(rows))


add_status_commands(schedule_group, "schedule", set_schedule_status)
