"""``lookout health ROLE``: a container healthcheck that reads the process's heartbeat."""

from __future__ import annotations

import socket
import sys

import click

from lookout._core.storage import BRIEF, Repositories
from lookout._tools.cli._options import redis_options, reports_errors, settings_from
from lookout._tools.health import live_heartbeat

ROLES = ("scheduler", "worker", "launcher", "monitor")


@click.command("health")
@click.argument("role", type=click.Choice(ROLES))
@redis_options
@reports_errors
def health_command(role: str, redis_url: str | None, prefix: str | None) -> None:
    """Exit 0 if a ROLE process on this host has a live heartbeat in Redis, else 1.

    Meant for a container's healthcheck: the container's host name is its own.
    """
    repos = Repositories.from_settings(settings_from(redis_url, prefix), BRIEF)
    found = live_heartbeat(repos.processes, role)
    if found is None:
        click.echo(f"error: no live heartbeat of a {role} on {socket.gethostname()}", err=True)
        sys.exit(1)
    leader = {True: " (leader)", False: " (standby)", None: ""}[found.leader]
    click.echo(f"{role} {found.id} alive{leader}")
