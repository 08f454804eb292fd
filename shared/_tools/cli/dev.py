"""``lookout dev``: scheduler, workers and launcher on an embedded Redis, in one command."""

from __future__ import annotations

import click

from lookout._tools.cli._format import tick_line
from lookout._tools.cli._options import (
    location_options,
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
@location_options
@redis_options
@reports_errors
def dev_command(
    concurrency: int,
    duration: float | None,
    module: str | None,
    file: str | None,
    redis_url: str | None,
    prefix: str | None,
) -> None:
    """Run everything locally and print each tick and run as it happens; Ctrl-C stops it."""
    definitions = load_definitions(module=module, file=file)
    location = ("-m", module) if module else ("-f", str(file))
    # --redis-url (or LOOKOUT_REDIS_URL) names a Redis to use; without it, an embedded one.
    options = DevOptions(
        location=location, workers=concurrency, duration=duration, embedded=redis_url is None
    )
    DevStack(definitions, settings_from(redis_url, prefix), options, click.echo, tick_line).run()
