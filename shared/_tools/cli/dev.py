"""``lookout dev``: Redis, scheduler, workers, launcher and the UI in one command."""

from __future__ import annotations

import click

from lookout._tools.cli._format import tick_line
from lookout._tools.cli._options import (
    listen_options,
    location_options,
    loglevel_option,
    redis_options,
    reports_errors,
    settings_from,
)
from lookout._tools.dev import DevOptions, DevStack
from lookout._tools.location import load_definitions


@click.command("dev")
@click.option(
    "-c",
    "--concurrency",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    envvar="LOOKOUT_CONCURRENCY",
    help="Worker pool processes. [env LOOKOUT_CONCURRENCY]",
)
@click.option(
    "--for",
    "duration",
    type=click.FloatRange(min=0),
    default=None,
    envvar="LOOKOUT_DEV_FOR",
    help="Stop after this many seconds (default: Ctrl-C). [env LOOKOUT_DEV_FOR]",
)
@click.option(
    "--start-all",
    is_flag=True,
    envvar="LOOKOUT_DEV_START_ALL",
    help="Start every sensor, whatever its default_status. [env LOOKOUT_DEV_START_ALL]",
)
@listen_options("DEV", "127.0.0.1", 3000)
@loglevel_option
@location_options
@redis_options
@reports_errors
def dev_command(
    concurrency: int,
    duration: float | None,
    start_all: bool,
    host: str,
    port: int,
    loglevel: str,
    module: str | None,
    file: str | None,
    redis_url: str | None,
    prefix: str | None,
) -> None:
    """Run everything locally, with the UI, until Ctrl-C.

    Starts an embedded Redis (unless --redis-url or LOOKOUT_REDIS_URL names
    one), a scheduler, a worker pool, a launcher and the web UI on
    --host:--port (3000, else any free port); prints each tick and run as it happens, and every
    process's output behind its name (kept in .lookout/logs/). While it
    runs, the other lookout commands started in this directory use its
    Redis without flags.
    """
    # Dev's own Redis is never another dev's: a second dev here is refused instead.
    settings = settings_from(redis_url, prefix, dev_fallback=False)
    definitions = load_definitions(module=module, file=file)
    location = ("-m", module) if module else ("-f", str(file))
    options = DevOptions(
        location=location,
        workers=concurrency,
        duration=duration,
        embedded=redis_url is None,
        host=host,
        port=port,
        port_given=click.get_current_context().get_parameter_source("port")
        != click.core.ParameterSource.DEFAULT,
        loglevel=loglevel.upper(),
        start_all=start_all,
    )
    DevStack(definitions, settings, options, tick_line).run()
