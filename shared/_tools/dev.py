"""``lookout dev``: the whole system on one machine, printing ticks and runs as they happen.

It starts an embedded redis-server (unless ``LOOKOUT_REDIS_URL`` is set), a
scheduler, a worker pool and a launcher as child processes of this one, and
watches Redis: each new tick of the location's sensors and each run event is
printed.  Ctrl-C (or SIGTERM, or ``--for`` running out) stops every child
and the embedded Redis cleanly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lookout._author.definitions import Definitions
from lookout._base.errors import LookoutError
from lookout._base.wire import RunEvent, TickRecord
from lookout._core.settings import Settings
from lookout._core.storage import EventStream, Repositories, TickLedger
from lookout._tools.demo import redis_for
from lookout._tools.operator import sync_definitions

Echo = Callable[[str], None]
ROLES = ("scheduler", "worker", "launcher")


@dataclass
class _Seen:
    """What the watcher has printed already: tick ids per sensor, the event stream position."""

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


class DevStack:
    """The child processes of ``lookout dev`` and the loop that prints what they do."""

    def __init__(
        self,
        definitions: Definitions,
        settings: Settings,
        options: DevOptions,
        echo: Echo,
        render_tick: Callable[[TickRecord], str],
    ) -> None:
        self.definitions = definitions
        self.settings = settings
        self.options = options
        self.echo = echo
        self.render_tick = render_tick
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._stopping = False

    def run(self) -> None:
        """Start Redis and the children, print until stopped, then stop everything."""
        previous = signal.signal(signal.SIGTERM, self._on_signal)
        try:
            with (
                redis_for(self.settings, embedded=self.options.embedded) as live,
                tempfile.TemporaryDirectory(prefix="lookout-dev-logs-") as logs,
            ):
                storage = Repositories.from_settings(live)
                storage.server.ping()
                sync_definitions(self.definitions, storage.sensors)
                self.echo(f"redis {live.redis_url}; process logs in {logs}")
                self._start_children(live, Path(logs))
                self._watch(storage.ticks, storage.events)
        except KeyboardInterrupt:
            pass
        finally:
            self._stop_children()
            signal.signal(signal.SIGTERM, previous)
        self.echo("stopped")

    def _on_signal(self, signum: int, frame: object) -> None:
        self._stopping = True

    def _start_children(self, settings: Settings, logs: Path) -> None:
        env = {
            **os.environ,
            "LOOKOUT_REDIS_URL": settings.redis_url,
            "LOOKOUT_KEY_PREFIX": settings.key_prefix,
        }
        for role in ROLES:
            args = [sys.executable, "-m", "lookout._tools.cli", role, *self.options.location]
            if role == "worker":
                args += ["--concurrency", str(self.options.workers)]
            log = (logs / f"{role}.log").open("wb")
            # Own process group: Ctrl-C reaches only us, and we stop them in order.
            self.children[role] = subprocess.Popen(
                args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            self.echo(f"started {role} (pid {self.children[role].pid})")

    def _watch(self, ticks: TickLedger, events: EventStream) -> None:
        seen = _Seen(event_id=events.latest_id())
        for s in self.definitions.sensors:  # old ticks of a reused Redis are not news
            seen.ticks[s.name] = {t.tick_id for t in ticks.history(s.name, 50)}
        deadline = (
            time.monotonic() + self.options.duration if self.options.duration is not None else None
        )
        while not self._stopping and (deadline is None or time.monotonic() < deadline):
            self._check_children()
            self._print_ticks(ticks, seen)
            self._print_events(events, seen)

    def _check_children(self) -> None:
        for role, proc in self.children.items():
            if proc.poll() is not None:
                raise LookoutError(f"the {role} exited with status {proc.returncode}")

    def _print_ticks(self, ticks: TickLedger, seen: _Seen) -> None:
        for s in self.definitions.sensors:
            known = seen.ticks.setdefault(s.name, set())
            for tick in reversed(ticks.history(s.name, 20)):
                if tick.tick_id in known:
                    continue
                known.add(tick.tick_id)
                said = (tick.status, tick.skip_reason)
                if tick.status != "SKIPPED" or seen.last.get(s.name) != said:
                    self.echo("tick  " + self.render_tick(tick))
                seen.last[s.name] = said

    def _print_events(self, events: EventStream, seen: _Seen) -> None:
        # Blocking read: this is also the loop's pause between tick polls.
        for event_id, event in events.wait(seen.event_id, block=0.5, count=100):
            seen.event_id = event_id
            self.echo("event " + describe_event(event))

    def _stop_children(self) -> None:
        # The scheduler first, so that nothing new is published while workers drain.
        for role in ROLES:
            proc = self.children.get(role)
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for role, proc in self.children.items():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            self.echo(f"stopped {role}")


def describe_event(event: RunEvent) -> str:
    """One line per run event: a status change, or an asset event (a run's or a sensor's)."""
    run = f"run {event.run_id[:12]} {event.job_name}"
    part = f" partition={event.partition}" if event.partition else ""
    if event.asset_key is not None:  # an asset event, with its metadata values
        verb = "observed" if event.kind == "ASSET_OBSERVATION" else "materialized"
        meta = "".join(f" {k}={pair[1]!r:.40}" for k, pair in event.metadata.items())
        who = run if event.run_id else f"sensor {event.sensor}"
        return f"{who} {verb} {event.asset_key}{part}{meta}"
    why = f": {event.message.splitlines()[0][:120]}" if event.message else ""
    origin = f" (sensor {event.sensor})" if event.sensor else ""
    return f"{run} {event.status}{part}{origin}{why}"
