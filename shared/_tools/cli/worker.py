"""``lookout worker`` and ``lookout launcher``: the processes that evaluate ticks and launch."""

from __future__ import annotations

import sys

import click

from lookout._tools.cli._format import table, when
from lookout._tools.cli._json import dead_letter_json, dumps
from lookout._tools.cli._options import (
    json_option,
    location_options,
    loglevel_option,
    open_storage,
    redis_options,
    reports_errors,
    settings_from,
)
from lookout._tools.location import load_definitions


@click.command("worker")
@click.option(
    "-c",
    "--concurrency",
    envvar="LOOKOUT_CONCURRENCY",
    type=click.IntRange(min=1),
    default=None,
    help="Pool processes (default: the number of CPUs). [env LOOKOUT_CONCURRENCY]",
)
@click.option(
    "-Q",
    "--queues",
    envvar="LOOKOUT_QUEUES",
    default=None,
    help="Comma-separated queues to consume (default: ticks and runs). [env LOOKOUT_QUEUES]",
)
@loglevel_option
@location_options
@redis_options
@reports_errors
def worker_command(
    concurrency: int | None,
    queues: str | None,
    loglevel: str,
    module: str | None,
    file: str | None,
    redis_url: str | None,
    prefix: str | None,
) -> None:
    """Run a Celery worker pool that evaluates ticks and executes runs."""
    from lookout.workers.main import run_worker

    sys.exit(
        run_worker(
            load_definitions(module=module, file=file),
            settings_from(redis_url, prefix),
            concurrency=concurrency,
            queues=[q.strip() for q in (queues or "").split(",") if q.strip()],
            loglevel=loglevel.upper(),
        )
    )


@click.command("launcher")
@loglevel_option
@location_options
@redis_options
@reports_errors
def launcher_command(
    loglevel: str, module: str | None, file: str | None, redis_url: str | None, prefix: str | None
) -> None:
    """Turn committed run requests into runs, exactly once each, and queue them."""
    from lookout.workers.main import run_launcher

    definitions = load_definitions(module=module, file=file)
    sys.exit(run_launcher(definitions, settings_from(redis_url, prefix), loglevel))


@click.command("dead-letters")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
@json_option
@redis_options
@reports_errors
def dead_letters_command(
    limit: int, as_json: bool, redis_url: str | None, prefix: str | None
) -> None:
    """Messages the workers and launchers could not read, newest first, with the reason."""
    letters = open_storage(settings_from(redis_url, prefix)).dead_letters.newest(limit)
    if as_json:
        click.echo(dumps([dead_letter_json(eid, letter) for eid, letter in letters]))
        return
    rows = [
        [
            when(letter.at),
            letter.source,
            letter.ref or "-",
            letter.reason.splitlines()[0][:80],
            repr(letter.payload[:40]),
        ]
        for _, letter in letters
    ]
    click.echo(table(["AT", "SOURCE", "REF", "REASON", "PAYLOAD"], rows, shrink=(2, 3, 4)))
