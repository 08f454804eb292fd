"""``lookout monitor``, ``lookout queues`` and ``lookout flower``: watching a deployment."""

from __future__ import annotations

import click

from lookout._tools.cli._options import (
    configure_logging,
    listen_options,
    location_options,
    loglevel_option,
    open_location,
    open_storage,
    redis_options,
    reports_errors,
    settings_from,
)
from lookout._tools.location import load_definitions
from lookout._tools.monitor import serve_monitor
from lookout._tools.monitor.flower import run_flower
from lookout._tools.monitor.report import show_queues


@click.command("monitor")
@listen_options("MONITOR", "127.0.0.1", 9108)
@loglevel_option
@location_options
@redis_options
@reports_errors
def monitor_command(
    host: str,
    port: int,
    loglevel: str,
    module: str | None,
    file: str | None,
    redis_url: str | None,
    prefix: str | None,
) -> None:
    """Serve the web UI, Prometheus /metrics and /healthz.

    Every change from the web UI (start, stop, cursor edits, Test sensor)
    needs the operator token from LOOKOUT_ADMIN_TOKEN; without it the UI is
    read only.
    """
    configure_logging(loglevel)
    settings = settings_from(redis_url, prefix)
    definitions, storage = open_location(module, file, settings)
    serve_monitor(definitions, storage, settings, host, port)


@click.command("queues")
@click.option("--watch", is_flag=True, help="Refresh until interrupted.")
@click.option(
    "--interval",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between refreshes with --watch.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document per refresh.")
@redis_options
@reports_errors
def queues_command(
    watch: bool, interval: float, as_json: bool, redis_url: str | None, prefix: str | None
) -> None:
    """Queue depths, backlogs, sensors, runs and live processes."""
    settings = settings_from(redis_url, prefix)
    storage = open_storage(settings)
    show_queues(
        storage.metrics,
        storage.processes,
        settings,
        click.echo,
        as_json=as_json,
        watch=interval if watch else None,
        clear=click.clear,
    )


@click.command(
    "flower", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.option(
    "--address",
    envvar="LOOKOUT_FLOWER_ADDRESS",
    default="127.0.0.1",
    show_default=True,
    help="Address Flower listens on. [env LOOKOUT_FLOWER_ADDRESS]",
)
@click.option(
    "--port",
    envvar="LOOKOUT_FLOWER_PORT",
    default=5555,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port Flower listens on. [env LOOKOUT_FLOWER_PORT]",
)
@location_options
@redis_options
@reports_errors
@click.pass_context
def flower_command(
    ctx: click.Context,
    address: str,
    port: int,
    module: str | None,
    file: str | None,
    redis_url: str | None,
    prefix: str | None,
) -> None:
    """Run Celery's Flower dashboard on lookout's broker (needs the flower extra).

    With the code location (-m/-f), Flower lists lookout's tasks as registered.
    Other arguments go to Flower as they are, e.g. --basic-auth=user:password.
    """
    definitions = load_definitions(module=module, file=file) if module or file else None
    run_flower(settings_from(redis_url, prefix), address, port, ctx.args, definitions)
