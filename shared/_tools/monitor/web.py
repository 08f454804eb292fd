"""The monitor's web app (Starlette): pages, ``/metrics``, ``/healthz``, operator actions, push API.

Pages are Jinja2 templates with autoescaping on, rendered on the server; a
few lines of script only carry the operator's token into the forms and
reload the page on request.  Storage work runs in Starlette's thread pool (the
Redis client is synchronous); every read and change goes through
``MonitorState``.  State changes are POSTs that need the operator's token
(``lookout._tools.monitor.auth``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import redis
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from lookout._author.definitions import Definitions
from lookout._base.errors import DefinitionError
from lookout._core.settings import Settings
from lookout._core.storage import Repositories
from lookout._core.storage.metrics import ping_once
from lookout._tools.monitor import timeline
from lookout._tools.monitor.api import PushApi
from lookout._tools.monitor.auth import refusal, supplied_token
from lookout._tools.monitor.collector import LookoutCollector
from lookout._tools.monitor.pages import Pages, sensor_path
from lookout._tools.monitor.push import PushCalls
from lookout._tools.monitor.state import CursorError, MonitorState, cursor_text, stored_cursor

log = logging.getLogger(__name__)

# A form posts a token, a cursor and where to go back: a cursor may be long, not huge.
MAX_FORM_BYTES = 256 * 1024
# Rows of the sensors list per page: a page stays quick to render with any number.
SENSORS_PER_PAGE = 100


class MonitorWeb:
    """The routes over one ``MonitorState``; ``app`` is the ASGI application to serve."""

    def __init__(self, definitions: Definitions, repos: Repositories, settings: Settings) -> None:
        self.state = MonitorState(definitions, repos, settings)
        self.settings = settings
        # A registry of our own: nothing registers implicitly into a global one.
        self.registry = CollectorRegistry()
        self.registry.register(
            LookoutCollector(
                repos.metrics,
                repos.processes,
                settings,
                sensors=[s.name for s in definitions.sensors],
            )
        )
        self.pages = Pages(writable=bool(settings.admin_token))
        self._actions: dict[str, Callable[[str], None]] = {
            "start": lambda name: self.state.set_status(name, running=True),
            "stop": lambda name: self.state.set_status(name, running=False),
            "reset-cursor": self.state.reset_cursor,
        }
        # The push API: JSON calls under /api/v1, each needing the token.
        self.api = PushApi(PushCalls(definitions, repos), settings)
        self.app = Starlette(
            routes=[
                *self.api.routes,
                Route("/healthz", self.healthz),
                Route("/metrics", self.metrics),
                Route("/api/figures", self.api_figures),
                Route("/", self.sensors),
                Route("/runs", self.runs),
                Route("/runs/{run_id}", self.run),
                Route("/deployment", self.deployment),
                Route("/sensors/{name}", self.sensor),
                Route("/sensors/{name}/ticks/{tick_id}", self.tick),
                Route("/sensors/{name}/cursor", self.edit_cursor, methods=["POST"]),
                Route("/sensors/{name}/test", self.test_sensor, methods=["POST"]),
                Route("/sensors/{name}/{action}", self.act, methods=["POST"]),
                Route("/schedules/{name}/{action}", self.act_on_schedule, methods=["POST"]),
            ],
            exception_handlers={
                redis.RedisError: self._redis_down,
                DefinitionError: self._no_such_sensor,
                HTTPException: self._http_error,
            },
        )

    # -- machine-readable ----------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        """200 when Redis answers, 503 when it does not (for container healthchecks)."""
        error = await run_in_threadpool(ping_once, self.settings.redis_url)
        if error is not None:
            return PlainTextResponse(f"redis: {error}\n", 503)
        return PlainTextResponse("ok\n")

    async def metrics(self, request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, self.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def api_figures(self, request: Request) -> Response:
        figures = await run_in_threadpool(self.state.figures)
        return JSONResponse(figures.to_json())

    # -- pages ---------------------------------------------------------------

    async def sensors(self, request: Request) -> Response:
        """The sensors, a page at a time (``?page=``), optionally those whose name has ``?q=``."""
        query = request.query_params.get("q", "").strip()
        page = _page_number(request.query_params.get("page"))

        def read() -> dict[str, Any]:
            return {
                "figures": self.state.figures(),
                "list": self.state.sensors(query, page, SENSORS_PER_PAGE),
                "schedules": self.state.schedules(),
                "query": query,
                "runs": self.state.runs(limit=10),
            }

        return self.pages.render(request, "sensors.html", await run_in_threadpool(read))

    async def runs(self, request: Request) -> Response:
        status = request.query_params.get("status") or None
        sensor = request.query_params.get("sensor") or None
        runs = await run_in_threadpool(lambda: self.state.runs(status=status, sensor=sensor))
        context = {"runs": runs, "status": status, "sensor": sensor}
        return self.pages.render(request, "runs.html", context)

    async def run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]

        def read() -> dict[str, Any]:
            run = self.state.run(run_id)
            if run is None:
                raise HTTPException(404, f"no run with id {run_id!r}")
            return {"run": run, "events": self.state.run_events(run)}

        return self.pages.render(request, "run.html", await run_in_threadpool(read))

    async def deployment(self, request: Request) -> Response:
        def read() -> dict[str, Any]:
            return {"figures": self.state.figures(), "dead_letters": self.state.dead_letters()}

        return self.pages.render(request, "deployment.html", await run_in_threadpool(read))

    async def sensor(self, request: Request) -> Response:
        name = request.path_params["name"]
        context = await run_in_threadpool(self._sensor_context, name)
        return self.pages.render(request, "sensor.html", context)

    def _sensor_context(self, name: str, **extra: Any) -> dict[str, Any]:
        view = self.state.sensor(name)
        ticks = self.state.ticks(name)
        cursor = self.state.cursor(name)
        return {
            "sensor": view,
            "ticks": ticks,
            "timeline": timeline.build(ticks, time.time()),
            "cursor": cursor,
            "cursor_json": cursor_text(cursor),
            "lag": self.state.event_lag(view),
            "runs": self.state.runs(sensor=name),
            **extra,
        }

    async def tick(self, request: Request) -> Response:
        name, tick_id = request.path_params["name"], request.path_params["tick_id"]

        def read() -> dict[str, Any]:
            view = self.state.sensor(name)
            tick = self.state.tick(name, tick_id)
            if tick is None:
                raise HTTPException(404, f"sensor '{name}' has no tick {tick_id} in its history")
            return {
                "sensor": view,
                "tick": tick,
                "links": self.state.tick_runs(tick),
                "cursor_before": stored_cursor(tick.cursor_before),
                "cursor_after": stored_cursor(tick.cursor_after),
            }

        return self.pages.render(request, "tick.html", await run_in_threadpool(read))

    # -- changes -------------------------------------------------------------

    async def act(self, request: Request) -> Response:
        """``POST /sensors/{name}/{start|stop|reset-cursor}``: then back where the form was."""
        name, action = request.path_params["name"], request.path_params["action"]
        if action not in self._actions:
            raise HTTPException(404, f"no action at {request.url.path}")
        form, refused = await self._authorised(request)
        if refused is not None:
            return refused
        await run_in_threadpool(self._actions[action], name)
        log.info("operator: %s sensor %r", action, name)
        back = str(form.get("back") or "/")
        if back not in ("/", sensor_path(name)):
            back = "/"  # never an open redirect
        return RedirectResponse(back, 303)

    async def act_on_schedule(self, request: Request) -> Response:
        """``POST /schedules/{name}/{start|stop}``: then back to the list."""
        name, action = request.path_params["name"], request.path_params["action"]
        if action not in ("start", "stop"):
            raise HTTPException(404, f"no action at {request.url.path}")
        _, refused = await self._authorised(request)
        if refused is not None:
            return refused
        await run_in_threadpool(self.state.set_schedule_status, name, action == "start")
        log.info("operator: %s schedule %r", action, name)
        return RedirectResponse("/", 303)

    async def edit_cursor(self, request: Request) -> Response:
        """Store a cursor typed as JSON; a malformed one is a 400 that changes nothing."""
        name = request.path_params["name"]
        form, refused = await self._authorised(request)
        if refused is not None:
            return refused
        text = str(form.get("cursor") or "")
        try:
            await run_in_threadpool(self.state.set_cursor, name, text)
        except CursorError as exc:
            error = str(exc)
            context = await run_in_threadpool(
                lambda: self._sensor_context(name, cursor_error=error, cursor_typed=text)
            )
            return self.pages.render(request, "sensor.html", context, 400)
        log.info("operator: set the cursor of sensor %r", name)
        return RedirectResponse(sensor_path(name) + "?saved=cursor#cursor", 303)

    async def test_sensor(self, request: Request) -> Response:
        """Evaluate with the given cursor and show what it would request; nothing is stored."""
        name = request.path_params["name"]
        form, refused = await self._authorised(request)
        if refused is not None:
            return refused
        text = str(form.get("cursor") or "")

        def run() -> tuple[dict[str, Any], int]:
            try:
                result = self.state.test_sensor(name, text)
            except CursorError as exc:
                return self._sensor_context(name, test_error=str(exc), test_typed=text), 400
            return self._sensor_context(name, test=result, test_typed=text), 200

        context, status = await run_in_threadpool(run)
        return self.pages.render(request, "sensor.html", context, status)

    async def _authorised(self, request: Request) -> tuple[FormData, Response | None]:
        """The request's form, and the refusal to send if it lacks the operator's token."""
        length = int(request.headers.get("content-length") or 0)
        if length > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
        form = await request.form(max_files=0, max_part_size=MAX_FORM_BYTES)
        token = form.get("token")
        supplied = supplied_token(request.headers, token if isinstance(token, str) else None)
        refused = refusal(self.settings.admin_token, supplied)
        if refused is None:
            return form, None
        page = self.pages.message(request, refused.status, refused.title, refused.text)
        page.headers.update(refused.headers)
        return form, page

    # -- errors --------------------------------------------------------------

    async def _redis_down(self, request: Request, exc: Exception) -> Response:
        log.warning("%s %s: Redis: %s", request.method, request.url.path, exc)
        return PlainTextResponse(f"Redis did not answer: {exc}\n", 503)

    async def _no_such_sensor(self, request: Request, exc: Exception) -> Response:
        return self.pages.message(request, 404, "No such sensor", str(exc))

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        title = "Not found" if exc.status_code == 404 else "Error"
        detail = exc.detail if exc.status_code != 404 else exc.detail.replace("Not Found", "")
        return self.pages.message(
            request, exc.status_code, title, detail or f"nothing at {quote(request.url.path)}"
        )


def _page_number(text: str | None) -> int:
    try:
        return max(1, int(text or 1))
    except ValueError:
        return 1


def create_app(definitions: Definitions, repos: Repositories, settings: Settings) -> Starlette:
    """The monitor's ASGI app: serve it with any ASGI server, or call ``serve_monitor``."""
    return MonitorWeb(definitions, repos, settings).app
