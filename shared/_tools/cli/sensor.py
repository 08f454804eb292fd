"""``lookout sensor ...``: the operator's commands on one code location's sensors."""

from __future__ import annotations

import json

import click

from lookout._base.errors import LookoutError
from lookout._process.tick import tick_runner
from lookout._tools.cli._format import sensors_table, tick_detail, ticks_table
from lookout._tools.cli._json import dumps, sensor_json, tick_json
from lookout._tools.cli._options import (
    json_option,
    location_options,
    open_location,
    open_storage,
    redis_options,
    reports_errors,
    settings_from,
)
from lookout._tools.cli._status import add_status_commands
from lookout._tools.operator import (
    get_cursor,
    list_sensors,
    reset_run_keys,
    set_cursor,
    set_sensor_status,
    tick_history,
)


@click.group("sensor")
def sensor_group() -> None:
    """Inspect and operate the sensors of a code location."""


@sensor_group.command("list")
@json_option
@location_options
@redis_options
@reports_errors
def list_command(
    as_json: bool, module: str | None, file: str | None, redis_url: str | None, prefix: str | None
) -> None:
    """Sensors with their job, interval, status and last tick."""
    defs, storage = open_location(module, file, settings_from(redis_url, prefix))
    rows = list_sensors(defs, storage.sensors)
    click.echo(dumps([sensor_json(r) for r in rows]) if as_json else sensors_table(rows))


add_status_commands(sensor_group, "sensor", set_sensor_status)


@sensor_group.command("cursor")
@click.argument("name")
@click.option("--set", "new_value", default=None, help="Store VALUE as the cursor (a string).")
@click.option("--json", "as_json", is_flag=True, help="Parse --set VALUE as JSON.")
@click.option("--reset", is_flag=True, help="Forget the cursor (run keys are kept).")
@location_options
@redis_options
@reports_errors
def cursor_command(
    name: str,
    new_value: str | None,
    as_json: bool,
    reset: bool,
    module: str | None,
    file: str | None,
    redis_url: str | None,
    prefix: str | None,
) -> None:
    """Show, set or reset a sensor's cursor."""
    if reset and new_value is not None:
        raise LookoutError("give --set or --reset, not both")
    if as_json and new_value is None:
        raise LookoutError("--json says how to read --set VALUE; give --set too")
    # The value is checked before anything is opened: bad input changes nothing.
    try:
        value = json.loads(new_value) if as_json and new_value is not None else new_value
    except json.JSONDecodeError as exc:
        raise LookoutError(f"--set value is not valid JSON: {exc}") from None
    defs, storage = open_location(module, file, settings_from(redis_url, prefix))
    if reset:
        set_cursor(defs, storage.sensors, name, None)
        click.echo(f"cursor of '{name}' reset")
        return
    if new_value is not None:
        set_cursor(defs, storage.sensors, name, value)
    click.echo(repr(get_cursor(defs, storage.sensors, name)))


@sensor_group.command("reset-run-keys")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@location_options
@redis_options
@reports_errors
def reset_run_keys_command(
    name: str,
    yes: bool,
    module: str | None,
    file: str | None,
    redis_url: str | None,
    prefix: str | None,
) -> None:
    """Forget a sensor's run keys: requests with keys it used before may launch again."""
    if not yes:
        click.confirm(
            f"sensor '{name}' may launch runs again for every run key it used; continue?",
            abort=True,
        )
    defs, storage = open_location(module, file, settings_from(redis_url, prefix))
    count = reset_run_keys(defs, storage.sensors, name)
    click.echo(f"forgot {count} run key(s) of '{name}'")


@sensor_group.command("ticks")
@click.argument("name")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("-v", "--verbose", is_flag=True, help="Show requests, cursors, tracebacks, logs.")
@json_option
@location_options
@redis_options
@reports_errors
def ticks_command(
    name: str,
    limit: int,
    verbose: bool,
    as_json: bool,
    module: str | None,
    file: str | None,
    redis_url: str | None,
    prefix: str | None,
) -> None:
    """A sensor's recent ticks, newest first."""
    defs, storage = open_location(module, file, settings_from(redis_url, prefix))
    ticks = tick_history(defs, storage.ticks, name, limit)
    if as_json:
        click.echo(dumps([tick_json(t) for t in ticks]))
    elif verbose:
        for t in ticks:
            click.echo(tick_detail(t))
    else:
        click.echo(ticks_table(ticks))


@sensor_group.command("preview")
@click.argument("name")
@location_options
@redis_options
@reports_errors
def preview_command(
    name: str, module: str | None, file: str | None, redis_url: str | None, prefix: str | None
) -> None:
    """Evaluate a sensor once without committing anything."""
    settings = settings_from(redis_url, prefix)
    defs, storage = open_location(module, file, settings)
    click.echo(tick_detail(tick_runner(defs, storage, settings).preview(name), preview=True))


@sensor_group.command("tick")
@click.argument("name")
@location_options
@redis_options
@reports_errors
def tick_command(
    name: str, module: str | None, file: str | None, redis_url: str | None, prefix: str | None
) -> None:
    """Evaluate a sensor once and commit the tick."""
    settings = settings_from(redis_url, prefix)
    defs, storage = open_location(module, file, settings)
    record = tick_runner(defs, storage, settings).tick(name)
    if record is None:
        raise LookoutError(f"tick of '{name}' was superseded before it could commit")
    click.echo(tick_detail(record))


@sensor_group.command("trigger")
@click.argument("name")
@click.option(
    "--payload",
    metavar="JSON",
    help="A JSON value the tick reads as context.trigger_payload (a lookout extension).",
)
@redis_options
@reports_errors
def trigger_command(
    name: str, payload: str | None, redis_url: str | None, prefix: str | None
) -> None:
    """Ask for a tick of a sensor now: push instead of poll.

    Never two ticks at once: with a tick in flight, one more follows it.  The
    sensor's minimum interval still holds; a STOPPED sensor ticks once and
    stays STOPPED.  Needs no code location, only Redis.
    """
    import json

    from lookout.scheduler import describe_trigger, trigger_sensor

    try:
        value = None if payload is None else json.loads(payload)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--payload") from None
    storage = open_storage(settings_from(redis_url, prefix))
    click.echo(describe_trigger(name, trigger_sensor(storage.schedule, name, payload=value)))
