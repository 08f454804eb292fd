"""Rendering of ticks, sensors and tables: coloured and fitted on a terminal, plain when piped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lookout._base.codec import decode_value
from lookout._base.wire import TickRecord
from lookout._tools.operator import SensorRow


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


# A cell that says exactly one of these is coloured by it on a terminal.
STATUS_STYLES = {
    "SUCCESS": "green",
    "RUNNING": "green",
    "FAILURE": "bold red",
    "SKIPPED": "yellow",
    "STARTED": "cyan",
    "QUEUED": "blue",
    "CANCELED": "magenta",
    "STOPPED": "dim",
}


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    shrink: Sequence[int] = (-1,),
    drop: Sequence[int] = (),
) -> str:
    """Columns under their headers: fitted and coloured on a terminal, plain text when piped.

    Piped, every cell is whole (scripts cut columns themselves).  On a
    terminal the table fits its width: the ``drop`` columns go first, in
    that order, while even the narrowest layout would not fit; then the
    ``shrink`` columns (free text, long ids; by default the last) give way,
    widest first, cut short with an ellipsis (a run id's start is enough
    for ``lookout runs show``).
    """
    console = Console()
    if not console.is_terminal:
        return plain_table(headers, rows)
    n = len(headers)
    widths = fitted_widths(
        headers, rows, {i % n for i in shrink}, [i % n for i in drop], console.width
    )
    grid = Table(box=None, header_style="bold", pad_edge=False)
    kept = [i for i in range(n) if widths[i] is not None]
    for i in kept:
        grid.add_column(headers[i], no_wrap=True, overflow="ellipsis", max_width=widths[i])
    for row in rows:
        grid.add_row(*(Text(str(row[i]), style=STATUS_STYLES.get(str(row[i]), "")) for i in kept))
    with console.capture() as captured:
        console.print(grid)
    return "\n".join(line.rstrip() for line in captured.get().splitlines())


def fitted_widths(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    flexible: set[int],
    drop: Sequence[int],
    width: int,
) -> list[int | None]:
    """Each column's width (``None``: dropped) so that the table fits in ``width``."""
    # Terminal cells, not characters: a wide character takes two.
    natural = [max(cell_len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    # A shrunk column keeps its header and a few characters.
    floors = [
        min(w, max(cell_len(h), 8)) if i in flexible else w
        for i, (h, w) in enumerate(zip(headers, natural, strict=True))
    ]
    widths: list[int | None] = list(natural)

    def excess(sizes: Sequence[int | None]) -> int:
        kept = [w for w in sizes if w is not None]
        return sum(kept) + 2 * (len(kept) - 1) - width  # two spaces between columns

    narrowest: list[int | None] = list(floors)
    for i in drop:
        if excess(narrowest) <= 0:
            break
        narrowest[i] = widths[i] = None
    over = excess(widths)
    while over > 0:
        candidates = [i for i in flexible if (w := widths[i]) is not None and w > floors[i]]
        if not candidates:
            break  # what is left is rich's to squeeze
        widest = max(candidates, key=lambda i: widths[i] or 0)
        widths[widest] = (widths[widest] or 0) - 1
        over -= 1
    return widths


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip()
        for r in [headers, *rows]
    ]
    return "\n".join(lines)


def cursor_text(raw: bytes | None) -> str:
    return "-" if raw is None else repr(decode_value(raw))


def tick_line(t: TickRecord) -> str:
    """One line per tick: time, sensor, status and what came of it."""
    detail = ""
    if t.status == "FAILURE":
        detail = t.error or ""
    elif t.skip_reason:
        detail = t.skip_reason
    if t.requests:
        detail = (
            f"{len(t.run_request_ids)} run request(s)"
            + (
                f", {len(t.dropped_run_keys)} duplicate run key(s) dropped"
                if t.dropped_run_keys
                else ""
            )
            + (f"; {detail}" if detail else "")
        )
    took = f"{t.duration * 1000:.1f} ms" if t.duration is not None else "-"
    return f"{when(t.started_at)}  {t.sensor}  {t.status}{times(t)}  {took}  {detail}".rstrip()


def times(t: TickRecord) -> str:
    """`` x1000 (from .. to ..)`` for a record that stands for a run of like skips."""
    if t.count <= 1:
        return ""
    return f" x{t.count} ({when(t.range_started_at)} to {when(t.ended_at)})"


def ticks_table(ticks: Sequence[TickRecord]) -> str:
    rows = []
    for t in ticks:
        reason = (t.error or "").splitlines()[0] if t.error else (t.skip_reason or "")
        requests = f"{len(t.run_request_ids)}" if t.requests else "-"
        if t.dropped_run_keys:
            requests += f" (+{len(t.dropped_run_keys)} dup)"
        took = f"{t.duration * 1000:.1f} ms" if t.duration is not None else "-"
        rows.append([when(t.started_at), t.tick_id, t.status + times(t), took, requests, reason])
    headers = ["AT", "TICK", "STATUS", "TOOK", "RUNS", "REASON"]
    return table(headers, rows, shrink=(1, 5), drop=(1, 3))


def tick_detail(t: TickRecord, *, preview: bool = False) -> str:
    """A tick with its requests, cursors and traceback.

    A preview committed nothing: its requests say what a tick would do with
    them, not that they were launched.
    """
    lines = [
        tick_line(t),
        f"  tick {t.tick_id}  cursor {cursor_text(t.cursor_before)} -> "
        f"{cursor_text(t.cursor_after)}",
    ]
    if preview:
        lines[0] = "preview (nothing committed): " + lines[0]
    states = (
        ("would launch", "would be dropped (run key used)")
        if preview
        else ("launched", "dropped (run key used)")
    )
    for r, ok in zip(t.requests, t.accepted or "1" * len(t.requests), strict=False):
        state = states[0] if ok == "1" else states[1]
        lines.append(
            f"  run request {r['request_id']} job={r['job_name']} run_key={r['run_key']!r}: {state}"
        )
    if t.traceback:
        lines.append("  " + t.traceback.rstrip().replace("\n", "\n  "))
    if t.logs:
        lines.append("  logs:")
        lines += [f"    {line}" for line in t.logs]
    return "\n".join(lines)


def sensors_table(rows: Sequence[SensorRow]) -> str:
    body = []
    for r in rows:
        last = r.last_tick
        body.append(
            [
                r.name,
                ",".join(r.jobs) or "-",
                f"{r.interval:g}s",
                r.status,
                "STARTED" if r.in_flight else (last.status if last else "-"),
                when(last.started_at) if last else "-",
                (
                    (last.error or "").splitlines()[0][:60]
                    if last and last.error
                    else (last.skip_reason or "")
                    if last
                    else ""
                ),
            ]
        )
    headers = ["SENSOR", "JOBS", "INTERVAL", "STATUS", "LAST TICK", "AT", "REASON"]
    return table(headers, body, shrink=(0, 1, 6), drop=(1, 2, 5))
