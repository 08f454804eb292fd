"""The status page's HTML: rendered on the server, a few lines of vanilla JS.

Every value from Redis or the code location is escaped here; the page never
builds HTML anywhere else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from html import escape
from urllib.parse import quote

from lookout._base.wire import RunRecord, TickRecord
from lookout._tools.monitor.figures import Figures, roles
from lookout._tools.operator import SensorRow

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; } th, td { padding: .25em .7em; text-align: left; }
th { background: #eee; } tr:nth-child(even) td { background: #f8f8f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.RUNNING, .SUCCESS { color: #17702e; } .STOPPED, .SKIPPED, .CANCELED { color: #777; }
.FAILURE { color: #b3261e; font-weight: bold; } .STARTED, .QUEUED { color: #1a56b0; }
form.action { display: inline; } button { margin-right: .2em; }
.bar { display: flex; gap: 1em; align-items: center; margin-bottom: 1em; }
.muted { color: #777; } .reason { max-width: 40em; overflow-wrap: anywhere; }
"""

SCRIPT = """
const box = document.getElementById('token');
if (box) {
  box.value = sessionStorage.getItem('lookout-token') || '';
  box.addEventListener('input', () => sessionStorage.setItem('lookout-token', box.value));
  document.querySelectorAll('form.action').forEach((form) => {
    form.addEventListener('submit', () => { form.elements.token.value = box.value; });
  });
}
const every = new URLSearchParams(location.search).get('refresh');
if (every) setTimeout(() => location.reload(), Math.max(2, Number(every)) * 1000);
"""


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def sensor_path(name: str) -> str:
    return f"/sensors/{quote(name, safe='')}"


def _cells(values: Iterable[str]) -> str:
    return "".join(values)


def _td(value: object, cls: str = "") -> str:
    attr = f' class="{escape(cls)}"' if cls else ""
    return f"<td{attr}>{escape(str(value))}</td>"


def _table(headers: Sequence[str], rows: Iterable[str], table_id: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def lateness(tick: TickRecord | None) -> float | None:
    if tick is None or tick.due_at is None:
        return None
    return max(0.0, tick.started_at - tick.due_at)


def reason(tick: TickRecord | None) -> str:
    if tick is None:
        return ""
    if tick.error:
        return tick.error.splitlines()[0] if tick.error.strip() else tick.error
    return tick.skip_reason or ""


def action_buttons(name: str, writable: bool, back: str) -> str:
    """Start, stop and cursor-reset forms; each carries the operator's token."""
    if not writable:
        return '<span class="muted">read only</span>'
    forms = []
    for verb, label in (("start", "Start"), ("stop", "Stop"), ("reset-cursor", "Reset cursor")):
        forms.append(
            f'<form class="action" method="post" action="{escape(sensor_path(name))}/{verb}">'
            f'<input type="hidden" name="token" value="">'
            f'<input type="hidden" name="back" value="{escape(back)}">'
            f'<button type="submit" name="do" value="{verb}" '
            f'data-sensor="{escape(name)}">{label}</button></form>'
        )
    return "".join(forms)


def _sensor_row(row: SensorRow, writable: bool) -> str:
    last = row.last_tick
    last_status = "STARTED" if row.in_flight else (last.status if last else "-")
    link = f'<td><a href="{escape(sensor_path(row.name))}">{escape(row.name)}</a></td>'
    return _cells(
        [
            link,
            _td(row.status, row.status),
            _td(f"{row.interval:g} s", "num"),
            _td(last_status, last_status),
            _td(when(last.started_at) if last else "-"),
            _td(seconds(lateness(last)), "num"),
            _td(reason(last), "reason"),
            f"<td>{action_buttons(row.name, writable, '/')}</td>",
        ]
    )


def sensors_table(rows: Sequence[SensorRow], writable: bool) -> str:
    headers = ["Sensor", "Status", "Interval", "Last tick", "At (UTC)", "Lateness", "Reason", ""]
    return _table(headers, (_sensor_row(r, writable) for r in rows), "sensors")


def queues_table(figures: Figures) -> str:
    rows = [
        _cells(
            [
                _td(q.name),
                _td(q.kind),
                _td(q.waiting, "num"),
                _td(q.unacked, "num"),
                _td(seconds(q.oldest_age), "num"),
            ]
        )
        for q in figures.queues
    ]
    return _table(["Queue", "Kind", "Waiting", "Unacked", "Oldest"], rows, "queues")


def processes_table(figures: Figures) -> str:
    order = roles(figures.processes)
    rows = [
        _cells(
            [
                _td(p.role + (" (leader)" if p.leader else "")),
                _td(p.host),
                _td(p.pid, "num"),
                _td(p.version),
                _td(when(p.started_at)),
                _td(seconds(max(0.0, figures.at - p.last_seen)), "num"),
            ]
        )
        for p in sorted(figures.processes, key=lambda p: (order.index(p.role), p.host, p.pid))
    ]
    headers = ["Role", "Host", "PID", "Version", "Started (UTC)", "Last heartbeat"]
    return _table(headers, rows, "processes")


def runs_table(runs: Sequence[RunRecord]) -> str:
    rows = [
        _cells(
            [
                _td(r.run_id),
                _td(r.job_name),
                _td(r.status, r.status),
                _td(r.sensor or "-"),
                _td(r.run_key or "-"),
                _td(when(r.created_at)),
                _td(r.error or "", "reason"),
            ]
        )
        for r in runs
    ]
    headers = ["Run", "Job", "Status", "Sensor", "Run key", "Created (UTC)", "Error"]
    return _table(headers, rows, "runs")


def ticks_table(ticks: Sequence[TickRecord]) -> str:
    rows = [
        _cells(
            [
                _td(when(t.started_at)),
                _td(t.status, t.status),
                _td(seconds(lateness(t)), "num"),
                _td(seconds(t.duration), "num"),
                _td(f"{len(t.run_request_ids)} / {len(t.requests)}", "num"),
                _td(reason(t), "reason"),
                _td(t.worker or "-"),
            ]
        )
        for t in ticks
    ]
    headers = ["Started (UTC)", "Status", "Lateness", "Took", "Runs", "Reason", "Worker"]
    return _table(headers, rows, "ticks")


def _summary(figures: Figures) -> str:
    leader = figures.leader
    parts = [
        f"{figures.live('scheduler')} scheduler(s)",
        f"leader: {leader.host}:{leader.pid}" if leader else "no leader",
        f"{figures.live('worker')} worker(s)",
        f"{figures.live('launcher')} launcher(s)",
        f"{figures.sensors.in_flight} tick(s) in flight",
        f"{figures.sensors.overdue} overdue",
    ]
    return f'<p id="summary">{escape(" · ".join(parts))}</p>'


def _token_bar(writable: bool) -> str:
    if not writable:
        return (
            '<div class="bar muted">State changes are disabled: the operator has not set '
            "LOOKOUT_ADMIN_TOKEN.</div>"
        )
    return (
        '<div class="bar"><label>Operator token '
        '<input type="password" id="token" autocomplete="off" size="24"></label>'
        '<span class="muted">needed for start, stop and cursor reset</span></div>'
    )


def document(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}<script>{SCRIPT}</script></body></html>"
    )


def overview_page(
    figures: Figures, rows: Sequence[SensorRow], runs: Sequence[RunRecord], writable: bool
) -> str:
    body = (
        f"<h1>lookout</h1>{_summary(figures)}{_token_bar(writable)}"
        f"<h2>Sensors</h2>{sensors_table(rows, writable)}"
        f"<h2>Queues</h2>{queues_table(figures)}"
        f"<h2>Processes</h2>{processes_table(figures)}"
        f"<h2>Recent runs</h2>{runs_table(runs)}"
        '<p class="muted"><a href="/metrics">metrics</a> · <a href="/api/figures">json</a> · '
        'auto-refresh: <a href="/?refresh=5">5 s</a></p>'
    )
    return document("lookout", body)


def sensor_page(
    row: SensorRow,
    ticks: Sequence[TickRecord],
    cursor: object,
    runs: Sequence[RunRecord],
    writable: bool,
) -> str:
    back = sensor_path(row.name)
    body = (
        f'<p><a href="/">&larr; all sensors</a></p><h1>{escape(row.name)}</h1>'
        f'<p>Status <span id="status" class="{escape(row.status)}">{escape(row.status)}</span>'
        f" · every {row.interval:g} s · jobs {escape(', '.join(row.jobs) or '-')}"
        f' · cursor <code id="cursor">{escape(repr(cursor))}</code></p>'
        f"{_token_bar(writable)}<p>{action_buttons(row.name, writable, back)}</p>"
        f"<h2>Recent ticks</h2>{ticks_table(ticks)}"
        f"<h2>Runs</h2>{runs_table(runs)}"
    )
    return document(f"lookout · {row.name}", body)


def message_page(title: str, text: str) -> str:
    body = f'<h1>{escape(title)}</h1><p>{escape(text)}</p><p><a href="/">back</a></p>'
    return document(title, body)
