"""The web UI's templates: one Jinja2 environment with autoescaping on, and its filters.

Every value from Redis or the code location reaches the page through a
template, escaped there; no HTML is built by string concatenation.  The
stylesheet and the few lines of script are templates too, inlined into every
page, so a page needs nothing from anywhere else.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from lookout._base.wire import metadata_text
from lookout._tools.monitor.timeline import short

# Pages change with every read, carry forms that change state, and are never
# meant to be framed by another site (a click there could not be the operator's).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def sensor_path(name: str) -> str:
    return f"/sensors/{quote(name, safe='')}"


def when(ts: float | None) -> str:
    """A time as UTC, to the second."""
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def relative(ts: float | None, now: float | None = None) -> str:
    """``12 s ago`` or ``in 3 s``: what a person reads at a glance."""
    if ts is None:
        return "-"
    delta = ts - (time.time() if now is None else now)
    if abs(delta) < 0.5:
        return "now"
    return f"in {short(delta)}" if delta > 0 else f"{short(-delta)} ago"


def seconds(value: float | None) -> str:
    return "-" if value is None else short(max(0.0, value))


def pretty_json(value: Any) -> str:
    """Indented JSON for a <pre>; what JSON cannot hold shows as its repr."""
    return json.dumps(value, indent=2, sort_keys=True, default=repr)


def json_line(value: Any) -> str:
    """Compact one-line JSON, for values shown inline."""
    return json.dumps(value, sort_keys=True, default=repr)


def first_line(text: str | None) -> str:
    if not text:
        return ""
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lookout._tools.monitor", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # records from older versions lack newer fields
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when,
        relative=relative,
        seconds=seconds,
        json=pretty_json,
        json_line=json_line,
        first_line=first_line,
        metadata=metadata_text,
        urlpart=lambda value: quote(str(value), safe=""),
    )
    env.globals.update(sensor_path=sensor_path)
    return env


class Pages:
    """Renders the templates with what every page needs (the time, whether changes are on)."""

    def __init__(self, writable: bool) -> None:
        self.writable = writable
        self.templates = Jinja2Templates(env=environment())

    def render(
        self, request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        full = {"writable": self.writable, "now": time.time(), **context}
        response = self.templates.TemplateResponse(request, name, full, status_code=status)
        response.headers.update(PAGE_HEADERS)
        return response

    def message(self, request: Request, status: int, title: str, text: str) -> Response:
        return self.render(request, "message.html", {"title": title, "text": text}, status)
