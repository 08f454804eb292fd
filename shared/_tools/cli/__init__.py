"""The ``lookout`` command: each command parses its options and calls one function."""

from __future__ import annotations

import sys

import click

from lookout._tools.cli._format import tick_detail
from lookout._tools.cli._options import fail, redis_options, reports_errors, settings_from
from lookout._tools.cli.dev import dev_command
from lookout._tools.cli.health import health_command
from lookout._tools.cli.monitor import flower_command, monitor_command, queues_command
from lookout._tools.cli.runs import runs_group
from lookout._tools.cli.schedule import schedule_group
from lookout._tools.cli.scheduler import scheduler_command
from lookout._tools.cli.sensor import sensor_group
from lookout._tools.cli.worker import dead_letters_command, launcher_command, worker_command
from lookout._tools.demo import DEMO_MODULES, run_demo


@click.group(context_settings={"auto_envvar_prefix": "LOOKOUT"})
@click.version_option(package_name="lookout")
def cli() -> None:
    """lookout: Dagster-style sensors on Celery and Redis.

    Every option also reads an environment variable: the ones shown in a
    command's help, else LOOKOUT_<COMMAND>_<OPTION> (for example
    LOOKOUT_SENSOR_TICKS_LIMIT).
    """


@cli.command("demo")
@click.option(
    "-m",
    "--module",
    "modules",
    multiple=True,
    help="Example modules to tick (default: all of examples/).",
)
@redis_options
@reports_errors
def demo_command(modules: tuple[str, ...], redis_url: str | None, prefix: str | None) -> None:
    """Tick the example sensors twice on an embedded Redis and print the ticks."""
    run_demo(
        modules or DEMO_MODULES,
        # Without a URL the demo embeds its own Redis, never a running dev's.
        settings_from(redis_url, prefix, dev_fallback=False),
        click.echo,
        tick_detail,
        embedded=redis_url is None,
    )


cli.add_command(sensor_group)
cli.add_command(schedule_group)
cli.add_command(dev_command)
cli.add_command(monitor_command)
cli.add_command(queues_command)
cli.add_command(flower_command)
cli.add_command(worker_command)
cli.add_command(launcher_command)
cli.add_command(dead_letters_command)
cli.add_command(runs_group)
cli.add_command(scheduler_command)
cli.add_command(health_command)


def main() -> None:
    """``lookout``: every bad input, click's own included, is one ``error: ...`` line, exit 1."""
    try:
        cli.main(prog_name="lookout", auto_envvar_prefix="LOOKOUT", standalone_mode=False)
    except click.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            sys.exit(130)  # Ctrl-C: the shell's convention, and nothing to explain
        fail("aborted")
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help())  # a group given no command: its help, as asked
    except click.ClickException as exc:
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        fail(exc.format_message() + hint)
