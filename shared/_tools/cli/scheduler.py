"""``lookout scheduler``: the process that publishes due ticks (one leader, any standbys)."""

from __future__ import annotations

import click

from lookout._tools.cli._options import (
    configure_logging,
    location_options,
    loglevel_option,
    open_location,
    redis_options,
    reports_errors,
    settings_from,
)


@click.command("scheduler")
@loglevel_option
@location_options
@redis_options
@reports_errors
def scheduler_command(
    loglevel: str,
    module: str | None,
    file: str | None,
    redis_url: str | None,
    prefix: str | None,
) -> None:
    """Publish the due ticks of a code location's sensors until SIGTERM or Ctrl-C.

    Run several for high availability: one leads, the others take over within
    seconds of its death.  Tuning: LOOKOUT_SCHEDULE_LIMIT, LOOKOUT_TICK_BATCH_SIZE,
    LOOKOUT_SCHEDULER_MAX_SLEEP, LOOKOUT_SCHEDULER_MIN_PAUSE, LOOKOUT_LEADER_TTL,
    LOOKOUT_LEADER_RENEW, LOOKOUT_HEARTBEAT_INTERVAL.
    """
    from lookout.scheduler import run_scheduler

    configure_logging(loglevel)
    settings = settings_from(redis_url, prefix)
    # A long-running process waits out a Redis outage rather than failing fast.
    # The settings' own timeouts: a scheduler waits out an outage (invariant 7).
    definitions, storage = open_location(module, file, settings, None)
    run_scheduler(definitions, settings, storage)
