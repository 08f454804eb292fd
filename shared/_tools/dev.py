"""``lookout dev``: the whole system on one machine, like ``dagster dev``.

It starts an embedded redis-server (unless a Redis URL is given), then a
scheduler, a worker pool, a launcher and the monitor's web UI as child
processes; prints the UI's URL and the ``export LOOKOUT_REDIS_URL=...`` line
for other terminals, and leaves that URL in ``.lookout/dev.json`` while it
runs so the other commands of the directory find it by themselves.  Every
child's output goes to the console behind its role and to
``.lookout/logs/<role>.log``, kept after exit; each tick and run event is
printed as it happens.  A child that dies is reported with its log's tail
and everything stops (exit status 1); Ctrl-C, SIGTERM or ``--for`` running
out stops the children (SIGKILL after ``STOP_GRACE``) and then Redis.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType

from lookout._author.definitions import Definitions
from lookout._base.errors import LookoutError
from lookout._base.wire import DefaultSensorStatus, RunEvent, TickRecord, metadata_text
from lookout._core.redis_url import masked_url
from lookout._core.settings import Settings
from lookout._core.storage import BRIEF, Repositories
from lookout._tools.children import Children
from lookout._tools.dev_state import DevState, published, running_dev, state_dir
from lookout._tools.operator import (
    list_sensors,
    set_schedule_status,
    set_sensor_status,
    sync_definitions,
)
from lookout._tools.prefixed import PrefixedConsole
from lookout._tools.redis_server import EmbeddedRedis, free_port

DEV = "dev"
ROLES = ("scheduler", "worker", "launcher", "ui")
# How long children get to exit on SIGTERM before SIGKILL, so that Ctrl-C ends
# dev in well under 2 s.  A Celery worker's warm shutdown can take longer on a
# busy machine; what a killed worker held is retried when its lease expires.
STOP_GRACE = 0.6
# The watch loop's turn (it notices Ctrl-C at the next one) and how often it reads ticks.
TURN = 0.1
TICK_POLL = 0.5
TICK_WINDOW = 20  # the newest ticks read per sensor and poll: more between two polls go unsaid
# The UI is announced once it answers; a UI that is not up by then is announced anyway.
UI_WAIT = 30.0


@dataclass
class _Seen:
    """What the watcher has printed already: tick ids per sensor, the event stream position."""

    # Per sensor, the ids of the newest ticks read last time: a tick not among
    # them is new.  Only that window is kept, however long dev runs.
    ticks: dict[str, set[str]] = field(default_factory=dict)
    # The last line printed per sensor: a SKIPPED tick saying the same again is not news.
    last: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    event_id: str = "0-0"


@dataclass(frozen=True)
class DevOptions:
    location: Sequence[str]  # ("-m", "pkg.mod") or ("-f", "path.py")
    workers: int = 2
    duration: float | None = None  # None: until Ctrl-C
    embedded: bool = True  # start a redis-server of our own (no Redis URL was given)
    host: str = "127.0.0.1"  # where the UI listens
    port: int = 3000  # 0: any free port
    port_given: bool = False  # said by the user: a taken port is an error, not a fallback
    loglevel: str = "INFO"  # of the scheduler and the worker
    start_all: bool = False  # every sensor RUNNING, whatever its default_status
    directory: Path = field(default_factory=Path.cwd)  # .lookout/ goes here


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def _port_free(host: str, port: int) -> str | None:
    """Why the UI could not listen on ``host:port`` now, or ``None`` if it could."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _ui_port(host: str, port: int, given: bool) -> tuple[int, str | None]:
    """The UI's port, checked free now, and a note if the default was taken and replaced.

    A port the user gave that is taken is one clear error; the default
    gives way to any free port, so a second ``lookout dev`` elsewhere works.
    """
    if port == 0:
        return free_port(), None
    why = _port_free(host, port)
    if why is None:
        return port, None
    if given:
        raise LookoutError(
            f"the UI cannot listen on {host}:{port} ({why}); "
            "give another with --port (0: any free port)"
        )
    other = free_port()
    return other, f"port {port} is taken ({why}): the UI listens on {other}"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((_display_host(host), port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def _signals_set(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP set ``stop``: the loop ends at its next turn, never mid-step.

    Raising from the handler instead could leave a half-started child or
    Redis behind; the loop's turns are a tenth of a second.
    """

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # SIGHUP too: a closed terminal must not leave the children (in their own
    # sessions, out of the terminal's reach) and Redis running without dev.
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class DevStack:
    """The child processes of ``lookout dev`` and the loop that prints what they do."""

    def __init__(
        self,
        definitions: Definitions,
        settings: Settings,
        options: DevOptions,
        render_tick: Callable[[TickRecord], str],
        console: PrefixedConsole | None = None,
    ) -> None:
        self.definitions = definitions
        self.settings = settings
        self.options = options
        self.render_tick = render_tick
        self.console = console if console is not None else PrefixedConsole((DEV, *ROLES))
        self.children = Children(state_dir(options.directory) / "logs", self.console)
        self._stop = threading.Event()

    def say(self, text: str) -> None:
        self.console.line(DEV, text)

    def run(self) -> None:
        """Start Redis and the children, print until stopped, then stop children, then Redis."""
        other = running_dev(self.options.directory)
        if other is not None:
            raise LookoutError(
                f"lookout dev is already running in this directory (pid {other.pid}, "
                f"UI {other.ui_url})"
            )
        port, note = _ui_port(self.options.host, self.options.port, self.options.port_given)
        if note is not None:
            self.say(note)
        ui_url = f"http://{_display_host(self.options.host)}:{port}"
        with _signals_set(self._stop):
            self._run(ui_url, port)
        self.say("stopped")

    def _run(self, ui_url: str, port: int) -> None:
        with contextlib.ExitStack() as stack:
            live = self.settings
            origin = "given"
            if self.options.embedded:
                server = stack.enter_context(EmbeddedRedis())
                stack.callback(self._stop_redis, server)  # last: after the children
                live = replace(self.settings, redis_url=server.url)
                origin = f"embedded, pid {server.process.pid if server.process else '?'}"
            storage = Repositories.from_settings(live, BRIEF)
            stack.callback(storage.client.close)
            storage.server.ping()
            self._prepare(storage)
            self.say(f"redis {masked_url(live.redis_url)} ({origin})")
            self.say(f"logs in {self.children.log_dir}")
            state = DevState(os.getpid(), live.redis_url, live.key_prefix, ui_url)
            stack.enter_context(published(self.options.directory, state))
            try:
                self._start_children(live, port)
                self._watch(storage, live, ui_url, port)
            finally:
                self.say("stopping")
                self.children.stop(STOP_GRACE)
                for child in self.children.started:
                    self.say(f"stopped {child.role}")

    def _stop_redis(self, server: EmbeddedRedis) -> None:
        server.stop()  # its own exit then has nothing left to do
        self.say("stopped redis")

    def _prepare(self, storage: Repositories) -> None:
        sync_definitions(self.definitions, storage.sensors)
        if self.options.start_all:
            for s in self.definitions.sensors:
                set_sensor_status(
                    self.definitions, storage.sensors, s.name, DefaultSensorStatus.RUNNING
                )
            for sched in self.definitions.schedules:
                set_schedule_status(
                    self.definitions, storage.sensors, sched.name, DefaultSensorStatus.RUNNING
                )
            names = ", ".join(s.name for s in self.definitions.sensors) or "none"
            self.say(f"--start-all: every sensor RUNNING ({names})")
            if self.definitions.schedules:
                names = ", ".join(s.name for s in self.definitions.schedules)
                self.say(f"--start-all: every schedule RUNNING ({names})")
            return
        rows = list_sensors(self.definitions, storage.sensors)
        running = [r.name for r in rows if r.status == DefaultSensorStatus.RUNNING.value]
        if rows and not running:
            # Dagster's default leaves a new sensor STOPPED: say so rather than sit silent.
            location = " ".join(self.options.location)
            self.say(
                f"every sensor is STOPPED: start one with `lookout sensor start NAME {location}` "
                "or in the UI, or run lookout dev with --start-all"
            )

    def _start_children(self, settings: Settings, port: int) -> None:
        env = {
            **os.environ,
            "LOOKOUT_REDIS_URL": settings.redis_url,
            "LOOKOUT_KEY_PREFIX": settings.key_prefix,
            # Children write to a pipe: line by line, or their output lags behind.
            "PYTHONUNBUFFERED": "1",
        }
        base = [sys.executable, "-m", "lookout._tools.cli"]
        location = list(self.options.location)
        level = ["--loglevel", self.options.loglevel]
        argvs = {
            "scheduler": [*base, "scheduler", *location, *level],
            "worker": [*base, "worker", *location, *level, "-c", str(self.options.workers)],
            "launcher": [*base, "launcher", *location],
            "ui": [*base, "monitor", *location, "--host", self.options.host, "--port", str(port)],
        }
        for role in ROLES:
            child = self.children.start(role, argvs[role], env)
            self.say(f"started {role} (pid {child.pid})")

    def _announce(self, settings: Settings, ui_url: str) -> None:
        exports = [f"export LOOKOUT_REDIS_URL={shlex.quote(masked_url(settings.redis_url))}"]
        if settings.key_prefix != Settings().key_prefix:
            exports.append(f"export LOOKOUT_KEY_PREFIX={shlex.quote(settings.key_prefix)}")
        self.say(f"UI at {ui_url}")
        self.say(
            "commands run in this directory use this Redis by themselves "
            "(.lookout/dev.json); anywhere else:"
        )
        for line in exports:
            self.say("  " + line)

    def _watch(self, storage: Repositories, settings: Settings, ui_url: str, port: int) -> None:
        seen = _Seen(event_id=storage.events.latest_id())
        for name in self._ticking():  # old ticks of a reused Redis are not news
            seen.ticks[name] = {t.tick_id for t in storage.ticks.history(name, TICK_WINDOW)}
        now = time.monotonic()
        deadline = now + self.options.duration if self.options.duration is not None else None
        announce_by: float | None = now + UI_WAIT
        ticks_due = now
        while not self._stop.is_set() and (deadline is None or time.monotonic() < deadline):
            self._check_children()
            if announce_by is not None and (
                _answers(self.options.host, port) or time.monotonic() > announce_by
            ):
                self._announce(settings, ui_url)
                announce_by = None
            if time.monotonic() >= ticks_due:  # a read per sensor: not at every turn
                self._print_ticks(storage, seen)
                ticks_due = time.monotonic() + TICK_POLL
            self._print_events(storage, seen)

    def _check_children(self) -> None:
        dead = self.children.first_exited()
        if dead is None:
            return
        tail = self.children.tail(dead)
        self.say(f"the {dead.role} (pid {dead.pid}) {dead.describe_exit()}; the end of its log:")
        self.console.lines(DEV, ["  " + line for line in tail] or ["  (empty)"])
        raise LookoutError(
            f"the {dead.role} {dead.describe_exit()}: see {dead.log_path}; everything was stopped"
        )

    def _ticking(self) -> list[str]:
        """The sensors and schedules whose ticks the console reports."""
        defs = self.definitions
        return [s.name for s in defs.sensors] + [s.name for s in defs.schedules]

    def _print_ticks(self, storage: Repositories, seen: _Seen) -> None:
        for name in self._ticking():
            window = storage.ticks.history(name, TICK_WINDOW)
            known = seen.ticks.get(name, set())
            seen.ticks[name] = {t.tick_id for t in window}
            for tick in reversed(window):
                if tick.tick_id in known:
                    continue
                said = (tick.status, tick.skip_reason)
                if tick.status != "SKIPPED" or seen.last.get(name) != said:
                    self.say("tick  " + self.render_tick(tick))
                seen.last[name] = said

    def _print_events(self, storage: Repositories, seen: _Seen) -> None:
        # Blocking read: this is also the loop's pause between tick polls.
        for event_id, event in storage.events.wait(seen.event_id, block=TURN, count=100):
            seen.event_id = event_id
            self.say("event " + describe_event(event))


def describe_event(event: RunEvent) -> str:
    """One line per run event: a status change, or an asset event (a run's or a sensor's)."""
    if event.kind == "SENSOR_TICK_FAILURE":
        why = (event.message or "").splitlines()[0][:120] if event.message else ""
        return f"sensor {event.sensor} tick {(event.tick_id or '')[:12]} FAILED: {why}"
    run = f"run {event.run_id[:12]} {event.job_name}"
    part = f" partition={event.partition}" if event.partition else ""
    if event.asset_key is not None:  # an asset event, with its metadata values
        verb = "observed" if event.kind == "ASSET_OBSERVATION" else "materialized"
        meta = metadata_text(event.metadata)
        who = run if event.run_id else f"sensor {event.sensor}"
        return f"{who} {verb} {event.asset_key}{part}{meta}"
    why = f": {event.message.splitlines()[0][:120]}" if event.message else ""
    origin = f" (sensor {event.sensor})" if event.sensor else ""
    return f"{run} {event.status}{part}{origin}{why}"
