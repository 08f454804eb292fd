"""What each of the monitor's URLs answers, independent of the HTTP server.

Reading needs nothing; every state change needs the operator's token
(``Settings.admin_token``, from ``LOOKOUT_ADMIN_TOKEN``), sent as the
``X-Lookout-Token`` header, an ``Authorization: Bearer`` header or the form
field ``token``.  A missing or wrong token is a 401 and changes nothing; with
no token configured, state changes are refused (403) for everyone.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from lookout._author.definitions import Definitions
from lookout._base.errors import DefinitionError
from lookout._base.wire import DefaultSensorStatus
from lookout._core.settings import Settings
from lookout._core.storage import (
    MetricsView,
    ProcessStore,
    Repositories,
    RunStore,
    SensorStore,
    TickLedger,
)
from lookout._core.storage.metrics import ping_once
from lookout._tools.monitor import page
from lookout._tools.monitor.collector import LookoutCollector
from lookout._tools.monitor.figures import read_figures
from lookout._tools.operator import (
    SensorRow,
    effective_status,
    get_cursor,
    list_sensors,
    set_cursor,
    set_sensor_status,
    tick_history,
)

log = logging.getLogger(__name__)

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
RECENT_RUNS = 20
RECENT_TICKS = 50


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = HTML
    headers: tuple[tuple[str, str], ...] = ()


def html(status: int, text: str, *headers: tuple[str, str]) -> Response:
    return Response(status, text.encode(), HTML, headers)


def message(status: int, title: str, text: str, *headers: tuple[str, str]) -> Response:
    return html(status, page.message_page(title, text), *headers)


class MonitorApp:
    """The monitor's routes over one code location, its settings and the repositories
    it reads: sensors (and their operator actions), ticks, runs, metrics, processes.
    """

    def __init__(
        self,
        definitions: Definitions,
        settings: Settings,
        *,
        sensors: SensorStore,
        ticks: TickLedger,
        runs: RunStore,
        metrics: MetricsView,
        processes: ProcessStore,
    ) -> None:
        self.definitions = definitions
        self.settings = settings
        self.sensors = sensors
        self.ticks = ticks
        self.runs = runs
        self.metrics = metrics
        self.processes = processes
        # A registry of our own: nothing registers implicitly into a global one.
        self.registry = CollectorRegistry()
        self.registry.register(
            LookoutCollector(
                metrics, processes, settings, sensors=[s.name for s in definitions.sensors]
            )
        )
        self._actions: dict[str, Callable[[str], None]] = {
            "start": lambda name: self._set_status(name, DefaultSensorStatus.RUNNING),
            "stop": lambda name: self._set_status(name, DefaultSensorStatus.STOPPED),
            "reset-cursor": lambda name: set_cursor(definitions, sensors, name, None),
        }

    @classmethod
    def on(cls, definitions: Definitions, repos: Repositories, settings: Settings) -> MonitorApp:
        """The app on the repositories it reads, taken from ``repos``."""
        return cls(
            definitions,
            settings,
            sensors=repos.sensors,
            ticks=repos.ticks,
            runs=repos.runs,
            metrics=repos.metrics,
            processes=repos.processes,
        )

    @property
    def writable(self) -> bool:
        return bool(self.settings.admin_token)

    # -- reading -------------------------------------------------------------

    def get(self, path: str) -> Response:
        if path == "/healthz":
            return self.healthz()
        if path == "/metrics":
            return Response(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)
        if path == "/api/figures":
            figures = read_figures(self.metrics, self.processes, self.settings)
            return Response(200, json.dumps(figures.to_json()).encode(), "application/json")
        if path == "/":
            return self.overview()
        if path.startswith("/sensors/") and path.count("/") == 2:
            return self.sensor(unquote(path.removeprefix("/sensors/")))
        return message(404, "Not found", f"nothing at {path}")

    def healthz(self) -> Response:
        """200 when Redis answers, 503 when it does not (for container healthchecks)."""
        error = ping_once(self.settings.redis_url)
        if error is not None:
            return Response(503, f"redis: {error}\n".encode(), TEXT)
        return Response(200, b"ok\n", TEXT)

    def overview(self) -> Response:
        figures = read_figures(self.metrics, self.processes, self.settings)
        rows = list_sensors(self.definitions, self.sensors)
        runs = self.runs.recent(limit=RECENT_RUNS)
        return html(200, page.overview_page(figures, rows, runs, self.writable))

    def sensor(self, name: str) -> Response:
        try:
            definition = self.definitions.get_sensor(name)
        except DefinitionError as exc:
            return message(404, "No such sensor", str(exc))
        state = self.sensors.state(name)
        row = SensorRow(
            name,
            definition.job_names,
            float(definition.minimum_interval_seconds),
            effective_status(definition, state),
            state.last,
            state.inflight is not None,
        )
        ticks = tick_history(self.definitions, self.ticks, name, RECENT_TICKS)
        cursor = get_cursor(self.definitions, self.sensors, name)
        runs = self.runs.recent(sensor=name, limit=RECENT_RUNS)
        return html(200, page.sensor_page(row, ticks, cursor, runs, self.writable))

    # -- changing state ------------------------------------------------------

    def post(self, path: str, form: Mapping[str, str], header_token: str | None) -> Response:
        """``POST /sensors/{name}/{start|stop|reset-cursor}``, with the operator's token."""
        parts = path.split("/")
        if len(parts) != 4 or parts[1] != "sensors" or parts[3] not in self._actions:
            return message(404, "Not found", f"no action at {path}")
        refused = self.refuse(header_token or form.get("token"))
        if refused is not None:
            return refused
        name, verb = unquote(parts[2]), parts[3]
        try:
            self._actions[verb](name)
        except DefinitionError as exc:
            return message(404, "No such sensor", str(exc))
        log.info("operator: %s sensor %r", verb, name)
        back = form.get("back", "/")
        if back not in ("/", page.sensor_path(name)):
            back = "/"
        return Response(303, b"", TEXT, (("Location", back),))

    def refuse(self, supplied: str | None) -> Response | None:
        """``None`` when ``supplied`` is the operator's token, else the refusal to send."""
        expected = self.settings.admin_token
        if not expected:
            return message(
                403, "Forbidden", "state changes are disabled: LOOKOUT_ADMIN_TOKEN is not set"
            )
        if not supplied or not hmac.compare_digest(supplied.encode(), expected.encode()):
            log.warning("operator: refused a state change without the right token")
            return message(
                401,
                "Unauthorized",
                "a state change needs the operator token",
                ("WWW-Authenticate", 'Bearer realm="lookout"'),
            )
        return None

    def _set_status(self, name: str, status: DefaultSensorStatus) -> None:
        set_sensor_status(self.definitions, self.sensors, name, status)
