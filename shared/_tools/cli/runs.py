"""``lookout runs ...``: the runs launched so far, from Redis (no code location needed)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from lookout._base.errors import LookoutError
from lookout._base.wire import RunRecord
from lookout._core.storage import Repositories
from lookout._core.storage.runs import RUN_STATUSES
from lookout._tools.cli._format import table, when
from lookout._tools.cli._json import dumps, run_json
from lookout._tools.cli._options import (
    json_option,
    open_storage,
    redis_options,
    reports_errors,
    settings_from,
)

# ``runs show`` prints at most this many of a run's log lines, the last ones.
SHOWN_LOG_LINES = 20


def _took(run: RunRecord) -> str:
    if run.started_at is None or run.ended_at is None:
        return "-"
    return f"{run.ended_at - run.started_at:.2f}s"


def _chain(run: RunRecord) -> str:
    parent = run.tags.get("dagster/parent_run_id")
    return f"{parent[:8]} #{run.tags.get('dagster/retry_number', '?')}" if parent else "-"


def runs_table(runs: Sequence[RunRecord]) -> str:
    rows = [
        [
            r.run_id,
            r.job_name,
            r.status,
            r.sensor or "-",
            r.run_key or "-",
            _chain(r),
            when(r.created_at),
            _took(r),
            (r.error or "").splitlines()[0][:60] if r.error else "",
        ]
        for r in runs
    ]
    headers = ["RUN", "JOB", "STATUS", "SENSOR", "RUN KEY", "RETRY OF", "CREATED", "TOOK", "ERROR"]
    return table(headers, rows, shrink=(0, 1, 3, 4, 8), drop=(4, 5, 3, 7, 6))


def run_detail(run: RunRecord) -> str:
    lines = [
        f"run {run.run_id}",
        f"  job        {run.job_name}",
        f"  status     {run.status}",
        f"  sensor     {run.sensor or '-'}  tick {run.tick_id or '-'}",
        f"  run key    {run.run_key or '-'}",
        f"  partition  {run.partition_key or '-'}",
        f"  created    {when(run.created_at)}",
        f"  started    {when(run.started_at)}",
        f"  ended      {when(run.ended_at)}",
        f"  worker     {run.worker or '-'}",
        f"  retries    attempt {run.tags.get('dagster/retry_number', '0')}"
        f"  parent {run.tags.get('dagster/parent_run_id', '-')}"
        f"  root {run.tags.get('dagster/root_run_id', '-')}"
        f"  retried by {run.retry_run_id or ('pending' if run.will_retry else '-')}",
        f"  tags       {json.dumps(run.tags, sort_keys=True)}",
        f"  run config {json.dumps(run.run_config, sort_keys=True, default=repr)}",
    ]
    if run.error:
        lines.append("  error      " + run.error.rstrip().replace("\n", "\n             "))
    if run.logs:
        # The tail: where a run's story ends; ``runs logs`` prints them all.
        shown = run.logs[-SHOWN_LOG_LINES:]
        cut = len(run.logs) - len(shown)
        more = f", the last {len(shown)} here; all: lookout runs logs {run.run_id}" if cut else ""
        lines.append(f"  logs       {len(run.logs)} lines{more}")
        lines += [f"    {line}" for line in shown]
    return "\n".join(lines)


def find_run(storage: Repositories, run_id: str) -> RunRecord:
    """The run with this id, or the one run whose id starts with it (ids are long to type)."""
    run = storage.runs.get(run_id) if run_id else None
    if run is not None:
        return run
    matches = storage.runs.run_ids_starting(run_id, limit=4) if run_id else []
    if not matches:
        raise LookoutError(f"no run id starts with {run_id!r}")
    if len(matches) > 1:
        shown = ", ".join(matches[:3]) + (", ..." if len(matches) > 3 else "")
        raise LookoutError(f"run id prefix {run_id!r} is ambiguous ({shown}): give more of it")
    found = storage.runs.get(matches[0])
    if found is None:  # deleted between the scan and the read
        raise LookoutError(f"no run id starts with {run_id!r}")
    return found


@click.group("runs")
def runs_group() -> None:
    """List and inspect runs."""


@runs_group.command("list")
@click.option(
    "--status",
    type=click.Choice(RUN_STATUSES, case_sensitive=False),
    default=None,
    help="Only runs in this status.",
)
@click.option("--sensor", default=None, help="Only runs launched by this sensor.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@json_option
@redis_options
@reports_errors
def list_command(
    status: str | None,
    sensor: str | None,
    limit: int,
    as_json: bool,
    redis_url: str | None,
    prefix: str | None,
) -> None:
    """The newest runs first."""
    storage = open_storage(settings_from(redis_url, prefix))
    runs = storage.runs.recent(
        status=status.upper() if status else None, sensor=sensor, limit=limit
    )
    click.echo(dumps([run_json(r) for r in runs]) if as_json else runs_table(runs))


@runs_group.command("show")
@click.argument("run_id")
@json_option
@redis_options
@reports_errors
def show_command(run_id: str, as_json: bool, redis_url: str | None, prefix: str | None) -> None:
    """One run (RUN_ID or any unique start of it): its request, status, times, worker and error."""
    run = find_run(open_storage(settings_from(redis_url, prefix)), run_id)
    click.echo(dumps(run_json(run)) if as_json else run_detail(run))


@runs_group.command("logs")
@click.argument("run_id")
@json_option
@redis_options
@reports_errors
def logs_command(run_id: str, as_json: bool, redis_url: str | None, prefix: str | None) -> None:
    """The log lines and events of a run (RUN_ID or any unique start of it), kept when it ended."""
    run = find_run(open_storage(settings_from(redis_url, prefix)), run_id)
    if as_json:
        click.echo(dumps({"run_id": run.run_id, "status": run.status, "logs": run.logs}))
    elif run.logs:
        click.echo("\n".join(run.logs))
    else:
        state = "it has not ended yet" if run.status in ("QUEUED", "STARTED") else "none were kept"
        click.echo(f"run {run.run_id} ({run.status}): no log lines ({state})")
