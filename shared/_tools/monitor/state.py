"""Everything the web UI reads from Redis or changes there, in one module.

The pages never call the storage themselves: they are handed the plain views
built here.  Changes go through ``lookout._tools.operator``, the same functions
the ``lookout sensor`` commands call, and "Test sensor" through the tick
runner's own ``evaluate``, so the UI, the CLI and the workers cannot disagree.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from lookout._author.definitions import Definitions
from lookout._author.sensors import SensorDefinition, SensorKind
from lookout._base.codec import decode, decode_value, encode_value
from lookout._base.wire import (
    DeadLetter,
    DefaultSensorStatus,
    LaunchRequest,
    RunEvent,
    RunRecord,
    TickRecord,
)
from lookout._core.settings import Settings
from lookout._core.storage import Repositories
from lookout._core.storage.metrics import entry_time
from lookout._process.tick import TickRunner, new_tick_id
from lookout._tools.monitor.figures import Figures, read_figures
from lookout._tools.operator import (
    ScheduleRow,
    effective_status,
    get_cursor,
    list_schedules,
    set_cursor,
    set_schedule_status,
    set_sensor_status,
    tick_history,
)
from lookout.workers.runs import run_id_for

# Bounds of every read, so that no page load can grow with the deployment.
RECENT_RUNS = 25
TIMELINE_TICKS = 60
LAG_CAP = 1000  # events counted behind an event sensor's cursor before saying "at least"
RUN_EVENTS_SCAN = 5000  # event stream entries read to find one run's events
CLOCK_MARGIN = 5.0  # seconds: see ``MonitorState.run_events``
DEAD_LETTERS = 50


class CursorError(ValueError):
    """A cursor typed by the operator that is not JSON; nothing was changed."""


def lateness(tick: TickRecord | None) -> float | None:
    """How late a tick started after it was due (``None``: it was not due, e.g. a manual tick)."""
    if tick is None or tick.due_at is None:
        return None
    return max(0.0, tick.started_at - tick.due_at)


@dataclass(frozen=True)
class SensorView:
    """One sensor as the list and its page show it."""

    name: str
    kind: str
    description: str | None
    jobs: tuple[str, ...]
    interval: float
    status: str  # RUNNING or STOPPED: the operator's choice, else the code's default
    last_tick: TickRecord | None
    in_flight: bool
    next_due: float | None  # None: not scheduled (stopped, or a tick in flight)

    @property
    def running(self) -> bool:
        return self.status == DefaultSensorStatus.RUNNING.value

    @property
    def toggle(self) -> str:
        """The one action that makes sense now: stop a running sensor, start a stopped one."""
        return "stop" if self.running else "start"

    @property
    def lateness(self) -> float | None:
        return lateness(self.last_tick)

    @property
    def event_sensor(self) -> bool:
        return self.kind != SensorKind.STANDARD.value


@dataclass(frozen=True)
class SensorPage:
    """A page of the sensors list, with counts over every sensor."""

    sensors: list[SensorView]
    total: int
    running: int
    matching: int  # sensors whose name has the query
    page: int
    pages: int


@dataclass(frozen=True)
class EventLag:
    """How far an event sensor's cursor is behind the newest event of the stream.

    ``events``: how many events came after the cursor; ``seconds``: how long
    the oldest of them has waited (0 when the sensor has seen everything).
    """

    cursor: str | None  # None: no tick yet (the first tick starts at the newest event)
    newest: str | None  # None: the stream is empty
    events: int
    at_least: bool  # more than ``LAG_CAP`` events behind: ``events`` is a floor
    seconds: float


@dataclass(frozen=True)
class RunLink:
    """A request of a tick and the run it became (``run`` is None until launched)."""

    request_id: str
    run_id: str
    run_key: str | None
    job_name: str
    accepted: bool
    run: RunRecord | None


@dataclass(frozen=True)
class TestRequest:
    """One request a test evaluation would make, and whether its run key is already used."""

    launch: LaunchRequest
    duplicate: bool


@dataclass(frozen=True)
class TestResult:
    """What a sensor would do with a given cursor; nothing of it was stored."""

    record: TickRecord
    cursor_given: Any
    requests: list[TestRequest]
    cursor_after: Any
    cursor_updated: bool


def cursor_text(value: Any) -> str:
    """A cursor as JSON for the edit box; a value JSON cannot hold shows as its repr."""
    try:
        return json.dumps(value, indent=None, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def stored_cursor(raw: bytes | None) -> Any:
    """A cursor as stored on a tick record, decoded (``None``: none)."""
    return None if raw is None else decode_value(raw)


def parse_cursor(text: str) -> Any:
    """The operator's JSON as a cursor value; ``CursorError`` says what is wrong with it."""
    if not text.strip():
        raise CursorError("the cursor is empty: write JSON (null resets the cursor)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CursorError(
            f"the cursor is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc


class MonitorState:
    """The UI's reads and writes over one code location, its repositories and settings."""

    def __init__(self, definitions: Definitions, repos: Repositories, settings: Settings) -> None:
        self.definitions = definitions
        self.repos = repos
        self.settings = settings

    # -- the deployment ------------------------------------------------------

    def figures(self) -> Figures:
        return read_figures(self.repos.metrics, self.repos.processes, self.settings)

    def dead_letters(self) -> list[tuple[str, DeadLetter]]:
        return self.repos.dead_letters.newest(DEAD_LETTERS)

    # -- sensors -------------------------------------------------------------

    def sensors(self, query: str = "", page: int = 1, per_page: int = 100) -> SensorPage:
        """One page of the sensors whose name has ``query``, and counts over all of them.

        Two round trips whatever the number of sensors; only the page's last
        ticks are decoded.
        """
        defs = self.definitions.sensors
        states = self.repos.sensors.states([s.name for s in defs])
        running = sum(
            1
            for s, state in zip(defs, states, strict=True)
            if effective_status(s, state) == DefaultSensorStatus.RUNNING.value
        )
        needle = query.lower()
        matching = [(s, st) for s, st in zip(defs, states, strict=True) if needle in s.name.lower()]
        pages = max(1, -(-len(matching) // per_page))
        page = min(max(1, page), pages)
        shown = matching[(page - 1) * per_page : page * per_page]
        due = self.repos.schedule.due_times([s.name for s, _ in shown])
        views = [
            self._view(s, effective_status(s, st), st.last, st.inflight is not None, d)
            for (s, st), d in zip(shown, due, strict=True)
        ]
        return SensorPage(views, len(defs), running, len(matching), page, pages)

    def sensor(self, name: str) -> SensorView:
        """One sensor; ``DefinitionError`` if the code location has none of that name."""
        definition = self.definitions.get_sensor(name)
        state = self.repos.sensors.state(name)
        (due,) = self.repos.schedule.due_times([name])
        status = effective_status(definition, state)
        return self._view(definition, status, state.last, state.inflight is not None, due)

    @staticmethod
    def _view(
        s: SensorDefinition[Any, Any],
        status: str,
        last: TickRecord | None,
        in_flight: bool,
        due: float | None,
    ) -> SensorView:
        return SensorView(
            name=s.name,
            kind=s.kind.value,
            description=s.description,
            jobs=s.job_names,
            interval=float(s.minimum_interval_seconds),
            status=status,
            last_tick=last,
            in_flight=in_flight,
            next_due=due,
        )

    def ticks(self, name: str, limit: int = TIMELINE_TICKS) -> list[TickRecord]:
        """Newest first, a tick in flight on top as STARTED."""
        return tick_history(self.definitions, self.repos.ticks, name, limit)

    def tick(self, name: str, tick_id: str) -> TickRecord | None:
        """One tick of the sensor's kept history (``None``: never, or trimmed away).

        A run of skips kept as one record is found by its latest or its first tick.
        """
        history = tick_history(self.definitions, self.repos.ticks, name, self.settings.tick_history)
        return next((t for t in history if tick_id in (t.tick_id, t.first_tick_id)), None)

    def tick_runs(self, tick: TickRecord) -> list[RunLink]:
        """Each request of the tick with the run it became, if the launcher made it yet."""
        ids = [run_id_for(r["request_id"]) for r in tick.requests]
        runs = {r.run_id: r for r in self.repos.runs.get_many(ids)} if ids else {}
        flags = tick.accepted.ljust(len(tick.requests), "1")
        return [
            RunLink(
                request_id=r["request_id"],
                run_id=run_id,
                run_key=r.get("run_key"),
                job_name=r.get("job_name", "?"),
                accepted=flag == "1",
                run=runs.get(run_id),
            )
            for r, run_id, flag in zip(tick.requests, ids, flags, strict=False)
        ]

    def cursor(self, name: str) -> Any:
        return get_cursor(self.definitions, self.repos.sensors, name)

    def event_lag(self, view: SensorView, now: float | None = None) -> EventLag | None:
        """For an asset or run-status sensor, how many events (and seconds) it has not seen."""
        if not view.event_sensor:
            return None
        newest_id = self.repos.events.latest_id()
        newest = None if newest_id == "0-0" else newest_id
        raw = self.cursor(view.name)
        cursor = None if raw is None else str(raw)
        if newest is None:
            return EventLag(cursor, None, 0, False, 0.0)
        if cursor is None:
            # The first tick starts at the newest event: nothing is behind yet.
            return EventLag(None, newest, 0, False, 0.0)
        behind = self.repos.events.read(cursor, LAG_CAP + 1)
        now = time.time() if now is None else now
        # In time: how long the oldest event the sensor has not seen has waited.
        seconds = max(0.0, now - entry_time(behind[0][0])) if behind else 0.0
        return EventLag(cursor, newest, min(len(behind), LAG_CAP), len(behind) > LAG_CAP, seconds)

    # -- runs ----------------------------------------------------------------

    def runs(
        self, *, sensor: str | None = None, status: str | None = None, limit: int = RECENT_RUNS
    ) -> list[RunRecord]:
        return self.repos.runs.recent(sensor=sensor, status=status, limit=limit)

    def run(self, run_id: str) -> RunRecord | None:
        return self.repos.runs.get(run_id)

    def run_events(self, run: RunRecord) -> list[tuple[str, RunEvent]]:
        """The run's events from the event stream, read from its creation on (bounded).

        Event ids carry Redis's clock and the run's times the launcher's and
        the worker's, so the window has a margin for hosts' clocks that differ.
        """
        start = f"{max(0, int((run.created_at - CLOCK_MARGIN) * 1000))}-0"
        until = (run.ended_at or time.time()) + CLOCK_MARGIN
        found = []
        for event_id, event in self.repos.events.read(start, RUN_EVENTS_SCAN):
            if entry_time(event_id) > until:
                break
            if event.run_id == run.run_id:
                found.append((event_id, event))
        return found

    # -- changes (each needs the operator's token, checked by the caller) ----

    def set_status(self, name: str, running: bool) -> None:
        status = DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED
        set_sensor_status(self.definitions, self.repos.sensors, name, status)

    def schedules(self) -> list[ScheduleRow]:
        """Every schedule of the code location, with its state and next fire time."""
        return list_schedules(self.definitions, self.repos.sensors, self.repos.schedule)

    def set_schedule_status(self, name: str, running: bool) -> None:
        status = DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED
        set_schedule_status(self.definitions, self.repos.sensors, name, status)

    def reset_cursor(self, name: str) -> None:
        set_cursor(self.definitions, self.repos.sensors, name, None)

    def set_cursor(self, name: str, text: str) -> Any:
        """Store the operator's JSON as the cursor; a malformed one changes nothing."""
        self.definitions.get_sensor(name)  # an unknown sensor before a parse error
        value = parse_cursor(text)
        set_cursor(self.definitions, self.repos.sensors, name, value)
        return value

    def test_sensor(self, name: str, text: str) -> TestResult:
        """Evaluate the sensor with the given cursor as a tick would, and store nothing.

        ``text`` is the cursor as JSON (empty: the stored cursor).  Requests whose
        run key the sensor already used are marked: a real tick would drop them.
        """
        definition = self.definitions.get_sensor(name)
        state = self.repos.sensors.state(name)
        given = decode_value(state.cursor) if state.cursor is not None else None
        if text.strip():
            given = parse_cursor(text)
            state = replace(state, cursor=None if given is None else encode_value(given))
        repos = self.repos
        runner = TickRunner(
            self.definitions,
            self.settings,
            repos.sensors,
            repos.ticks,
            repos.events,
            worker="monitor test",
        )
        commit = runner.evaluate(definition, state, tick_id=new_tick_id(), due_at=None)
        launches = [decode(LaunchRequest, payload) for _, payload in commit.launches]
        return TestResult(
            record=commit.record,
            cursor_given=given,
            requests=self._flag_duplicates(name, launches),
            cursor_after=None if commit.cursor is None else decode_value(commit.cursor),
            cursor_updated=commit.store_cursor,
        )

    def _flag_duplicates(self, name: str, launches: Sequence[LaunchRequest]) -> list[TestRequest]:
        keyed = [launch.run_key for launch in launches if launch.run_key is not None]
        used = iter(self.repos.sensors.run_keys_used(name, keyed))
        return [
            TestRequest(launch, launch.run_key is not None and next(used)) for launch in launches
        ]
