"""Plain-text rendering of ticks, sensors and tables for the terminal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from lookout._base.codec import decode_value
from lookout._base.wire import TickRecord
from lookout._tools.operator import SensorRow


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
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
    return f"{when(t.started_at)}  {t.sensor}  {t.status}  {took}  {detail}".rstrip()


def tick_detail(t: TickRecord) -> str:
    lines = [
        tick_line(t),
        f"  tick {t.tick_id}  cursor {cursor_text(t.cursor_before)} -> "
        f"{cursor_text(t.cursor_after)}",
    ]
    for r, ok in zip(t.requests, t.accepted or "1" * len(t.requests), strict=False):
        state = "launched" if ok == "1" else "dropped (run key used)"
        lines.append(
            f"  run request {r['request_id']} job={r['job_name']} run_key={r['run_key']!r}: {state}"
        )
    if t.traceback:
        lines.append("  " + t.traceback.rstrip().replace("\n", "\n  "))
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
    return table(["SENSOR", "JOBS", "INTERVAL", "STATUS", "LAST TICK", "AT", "REASON"], body)
