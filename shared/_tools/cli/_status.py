"""``start NAME`` / ``stop NAME``: one command factory for sensors and schedules alike."""

from __future__ import annotations

from collections.abc import Callable

import click

from lookout._author.definitions import Definitions
from lookout._base.wire import DefaultSensorStatus
from lookout._core.storage import SensorStore
from lookout._tools.cli._options import (
    location_options,
    open_location,
    redis_options,
    reports_errors,
    settings_from,
)

StatusSetter = Callable[[Definitions, SensorStore, str, DefaultSensorStatus], None]


def add_status_commands(group: click.Group, noun: str, set_status: StatusSetter) -> None:
    """Add ``start`` and ``stop`` to ``group`` (``noun``: "sensor", "schedule")."""
    group.add_command(_status_command(noun, set_status, DefaultSensorStatus.RUNNING, "Start"))
    group.add_command(_status_command(noun, set_status, DefaultSensorStatus.STOPPED, "Stop"))


def _status_command(
    noun: str, set_status: StatusSetter, status: DefaultSensorStatus, verb: str
) -> click.Command:
    @location_options
    @redis_options
    @reports_errors
    def command(
        name: str, module: str | None, file: str | None, redis_url: str | None, prefix: str | None
    ) -> None:
        defs, storage = open_location(module, file, settings_from(redis_url, prefix))
        set_status(defs, storage.sensors, name, status)
        click.echo(f"{noun} '{name}' is {status.value}")

    command.__doc__ = f"{verb} a {noun} (kept until an operator changes it)."
    return click.command(verb.lower())(click.argument("name")(command))
