"""Chaos on a whole stack: random faults from a fixed seed, then what the stack promised.

Shared by the chaos test (``tests/test_chaos.py``, about two minutes) and the
soak (``python -m bench.soak``, as long as asked).  It runs a real
redis-server with AOF, schedulers, workers and launchers (each restarted as a
supervisor would when it dies), the file sensors of
``tests.locations.chaos_load``, and drops files for them while it injects, at
random from ``seed``:

- ``kill_scheduler``, ``kill_worker``, ``kill_launcher``: kill -9 of a
  process's whole group (its container, as it were); ``kill_pool``: kill -9
  of one of a worker's pool processes, at any moment of the worker's life,
  its start included (``lookout.workers.pool``);
- ``pause``: SIGSTOP of a process, SIGCONT after ``pause_max`` seconds at most;
- ``redis_restart``: redis-server stopped and started on the same port, AOF
  kept;
- ``poison_ticks``, ``poison_runs``: a raw item on Celery's tick or run
  queue; ``poison_launch``, ``poison_events``: an entry that is not a message
  on the launch stream or the event stream.

Then the faults stop, every file's run is waited for, and ``Figures`` says
what was lost, doubled, overlapped, left unfinished or died.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from redis.typing import EncodableT, FieldT

from lookout import Settings
from lookout.testing import EmbeddedRedis, Keys, Repositories, free_port
from tests.conftest import TEST_HISTORY

ROOT = Path(__file__).resolve().parent.parent
LOCATION = "tests.locations.chaos_load"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
KILLS = ("kill_scheduler", "kill_worker", "kill_pool", "kill_launcher")
POISONS = ("poison_ticks", "poison_runs", "poison_launch", "poison_events")
FAULT_KINDS = (*KILLS, "pause", "redis_restart", *POISONS)
# A process that dies this soon after a Redis restart counts as killed by it.
RESTART_BLAME = 15.0


@dataclass
class ChaosConfig:
    """What to run and for how long; every random choice comes from ``seed``."""

    work_dir: Path
    seed: int = 12
    fault_seconds: float = 60.0
    fault_interval: float = 1.0
    drop_interval: float = 0.3
    settle_seconds: float = 120.0
    sensors: int = 4
    schedulers: int = 2
    workers: int = 3
    launchers: int = 2
    concurrency: int = 2
    pause_max: float = 2.0
    redis_down_max: float = 2.0
    weights: dict[str, float] = field(
        default_factory=lambda: {kind: 1.0 for kind in FAULT_KINDS} | {"redis_restart": 0.5}
    )


@dataclass
class Figures:
    """What one chaos run did and found."""

    seconds: float = 0.0
    faults: Counter[str] = field(default_factory=Counter)
    files: int = 0
    runs: int = 0
    run_statuses: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    overlapping: list[str] = field(default_factory=list)
    evaluations: int = 0
    interrupted_evaluations: int = 0
    events: int = 0
    dead_letters: int = 0
    deaths_after_redis_restart: Counter[str] = field(default_factory=Counter)
    other_deaths: Counter[str] = field(default_factory=Counter)
    # What each such process said last before it died (its "Unrecoverable error"
    # line, else its last line), counted.
    death_causes: Counter[str] = field(default_factory=Counter)
    failure_ticks: int = 0
    failure_ticks_without_cause: int = 0
    # The first words of each FAILURE tick's and failed run's error, counted.
    failure_causes: Counter[str] = field(default_factory=Counter)
    not_running: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The figures as text, one per line."""
        faults = ", ".join(f"{kind} {self.faults[kind]}" for kind in FAULT_KINDS)
        return [
            f"duration: {self.seconds:.0f} s",
            f"faults: {sum(self.faults.values())} ({faults})",
            f"files dropped: {self.files}; runs: {self.runs} {dict(self.run_statuses)}",
            f"lost runs: {len(self.lost)}; duplicate runs: {len(self.duplicates)}; "
            f"runs not terminal: {len(self.unfinished)}",
            f"evaluations: {self.evaluations} (interrupted by a kill: "
            f"{self.interrupted_evaluations}); overlapping: {len(self.overlapping)}",
            f"events in the event stream: {self.events}; dead letters: {self.dead_letters}",
            f"deaths within {RESTART_BLAME:g} s of a Redis restart: "
            f"{dict(self.deaths_after_redis_restart) or 0}; "
            f"other deaths not caused by the harness: {dict(self.other_deaths) or 0}",
            f"FAILURE ticks: {self.failure_ticks}; without a cause: "
            f"{self.failure_ticks_without_cause}",
            f"processes not running at the end: {self.not_running or 0}",
            *(f"  {n} x {cause}" for cause, n in self.failure_causes.most_common(12)),
            *(f"  died: {n} x {cause}" for cause, n in self.death_causes.most_common(12)),
        ]


class Supervised:
    """One lookout process, started again whenever it dies, as a supervisor would."""

    def __init__(self, kind: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.kind = kind
        self.argv = argv
        self.env = env
        self.logs = logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.killed = False  # the harness killed it: its death is expected
        self.paused_until: float | None = None
        self.log: Path | None = None
        self.started_at = 0.0

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.argv[-1]}"

    def start(self) -> None:
        self.starts += 1
        log = self.log = self.logs / f"{self.name}.{self.starts}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lookout", *self.argv[:-1]],
            env=self.env,
            cwd=str(ROOT),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.killed = False
        self.paused_until = None
        self.started_at = time.time()

    def last_words(self) -> str:
        """Why it died, as far as its output says."""
        lines = self.log.read_text(errors="replace").splitlines() if self.log else []
        fatal = [line for line in lines if "Unrecoverable error" in line]
        last = (fatal or [line for line in lines if line.strip()] or ["(no output)"])[-1]
        return f"{self.kind}: {last.split(' ', 2)[-1][:100]}"

    def dead(self) -> bool:
        return self.proc is None or self.proc.poll() is not None

    def signal_group(self, sig: signal.Signals) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def pool(self) -> list[int]:
        """A worker's pool processes (the main process's children)."""
        if self.proc is None:
            return []
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        with contextlib.suppress(OSError):
            return [int(pid) for pid in path.read_text().split()]
        return []

    def stop(self) -> None:
        self.signal_group(signal.SIGCONT)
        self.signal_group(signal.SIGTERM)
        if self.proc is not None:
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.proc.wait()


class Chaos:
    """The stack, the workload and the faults of one chaos run."""

    def __init__(self, config: ChaosConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.figures = Figures()
        self.port = free_port()
        self.redis_dir = config.work_dir / "redis"
        self.logs = config.work_dir / "logs"
        self.inbox = config.work_dir / "in"
        self.redis = EmbeddedRedis(self.port, appendonly=True, directory=str(self.redis_dir))
        self.settings = Settings(redis_url=self.redis.url, tick_history=TEST_HISTORY)
        self.keys = Keys(self.settings.key_prefix)
        self.sensors = [f"chaos_{i}" for i in range(config.sensors)]
        self.dropped: dict[str, int] = dict.fromkeys(self.sensors, 0)
        self.procs: list[Supervised] = []
        self.redis_restarts: list[float] = []

    # -- the stack --------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            LOOKOUT_REDIS_URL=self.settings.redis_url,
            LOOKOUT_TICK_TIMEOUT="8",
            LOOKOUT_INFLIGHT_MARGIN="4",
            # Lost run messages and launch entries of killed launchers come
            # back in test time rather than after minutes.
            LOOKOUT_RUN_RESUBMIT_AFTER="8",
            LOOKOUT_LAUNCH_CLAIM_IDLE="4",
            LOOKOUT_RUN_LEASE="6",
            LOOKOUT_LOGLEVEL="INFO",
            CHAOS_DIR=str(self.config.work_dir),
            CHAOS_SENSORS=str(self.config.sensors),
            PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self) -> None:
        for path in (self.redis_dir, self.logs, *(self.inbox / s for s in self.sensors)):
            path.mkdir(parents=True, exist_ok=True)
        self.redis.start()
        env = self.env()
        config = self.config
        worker = ["worker", "-m", LOCATION, "-c", str(config.concurrency)]
        plans = [
            *(("scheduler", ["scheduler", "-m", LOCATION]) for _ in range(config.schedulers)),
            *(("worker", worker) for _ in range(config.workers)),
            *(("launcher", ["launcher", "-m", LOCATION]) for _ in range(config.launchers)),
        ]
        for index, (kind, argv) in enumerate(plans):
            proc = Supervised(kind, [*argv, str(index)], env, self.logs)
            proc.start()
            self.procs.append(proc)

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()
        self.redis.stop()

    def supervise(self, now: float) -> None:
        """Resume what a pause has held long enough; restart what died."""
        for proc in self.procs:
            if proc.paused_until is not None and now >= proc.paused_until:
                proc.signal_group(signal.SIGCONT)
                proc.paused_until = None
            if proc.dead():
                self._count_death(proc, now)
                proc.start()

    def _count_death(self, proc: Supervised, now: float) -> None:
        if proc.killed:
            return
        self.figures.death_causes[proc.last_words()] += 1
        if any(now - at < RESTART_BLAME for at in self.redis_restarts):
            self.figures.deaths_after_redis_restart[proc.kind] += 1
        else:
            self.figures.other_deaths[proc.kind] += 1

    # -- the workload -----------------------------------------------------

    def drop(self) -> None:
        """One more file for a sensor chosen at random, written then renamed into place."""
        sensor = self.rng.choice(self.sensors)
        self.dropped[sensor] += 1
        name = f"{self.dropped[sensor]:06d}.txt"
        tmp = self.inbox / sensor / f".{name}.tmp"
        tmp.write_text(f"{sensor} {name}\n")
        tmp.rename(self.inbox / sensor / name)

    # -- the faults -------------------------------------------------------

    def inject(self) -> None:
        kinds = list(self.config.weights)
        kind = self.rng.choices(kinds, weights=[self.config.weights[k] for k in kinds])[0]
        actions: dict[str, Callable[[], bool]] = {
            "kill_scheduler": lambda: self._kill("scheduler"),
            "kill_worker": lambda: self._kill("worker"),
            "kill_launcher": lambda: self._kill("launcher"),
            "kill_pool": self._kill_pool,
            "pause": self._pause,
            "redis_restart": self._restart_redis,
            "poison_ticks": lambda: self._poison_queue(self.settings.tick_queue),
            "poison_runs": lambda: self._poison_queue(self.settings.run_queue),
            "poison_launch": lambda: self._poison_stream(self.keys.launch),
            "poison_events": lambda: self._poison_stream(self.keys.events),
        }
        if actions[kind]():
            self.figures.faults[kind] += 1

    def _running(self, kind: str) -> list[Supervised]:
        return [p for p in self.procs if p.kind == kind and not p.dead() and p.paused_until is None]

    def _kill(self, kind: str) -> bool:
        candidates = self._running(kind)
        if not candidates:
            return False
        victim = self.rng.choice(candidates)
        victim.killed = True
        victim.signal_group(signal.SIGKILL)
        return True

    def _kill_pool(self) -> bool:
        pools = [(p, pid) for p in self._running("worker") for pid in p.pool()]
        if not pools:
            return False
        _, pid = self.rng.choice(pools)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return True

    def _pause(self) -> bool:
        candidates = [p for p in self.procs if not p.dead() and p.paused_until is None]
        if not candidates:
            return False
        victim = self.rng.choice(candidates)
        victim.signal_group(signal.SIGSTOP)
        victim.paused_until = time.time() + self.rng.uniform(0.2, self.config.pause_max)
        return True

    def _restart_redis(self) -> bool:
        self.redis.stop()  # SIGTERM: redis-server writes its AOF and exits
        time.sleep(self.rng.uniform(0.2, self.config.redis_down_max))
        self.redis = EmbeddedRedis(self.port, appendonly=True, directory=str(self.redis_dir))
        self.redis.start(timeout=30)
        self.redis_restarts.append(time.time())
        return True

    def _client(self) -> Repositories:
        return Repositories.from_settings(self.settings)

    def _poison_queue(self, queue: str) -> bool:
        item = self.rng.choice([b"not json", b"[1, 2]", b"\xff\xfe", b'{"no": "envelope"}'])
        return self._write(lambda repos: repos.client.lpush(self.keys.celery_queue(queue), item))

    def _poison_stream(self, key: str) -> bool:
        choices: list[dict[FieldT, EncodableT]] = [
            {"d": b"\xc1 not msgpack"},
            {"x": b"no d field"},
            {"d": b""},
        ]
        entry = self.rng.choice(choices)
        return self._write(lambda repos: repos.client.xadd(key, entry))

    def _write(self, write: Callable[[Repositories], object]) -> bool:
        repos = self._client()
        try:
            write(repos)
            return True
        except Exception:  # Redis restarting: this fault is not counted
            return False
        finally:
            repos.close()

    # -- the run ----------------------------------------------------------

    def run(self) -> Figures:
        """Start, inject faults for ``fault_seconds``, settle, measure, stop."""
        began = time.time()
        self.start()
        try:
            self._chaos()
            self._settle()
            self._measure()
        finally:
            self.figures.seconds = time.time() - began
            self.stop()
        return self.figures

    def _chaos(self) -> None:
        config = self.config
        now = time.time()
        end = now + config.fault_seconds
        next_fault = now + 5.0  # the stack comes up first
        next_drop = now
        while now < end:
            self.supervise(now)
            if now >= next_drop:
                self.drop()
                next_drop = now + config.drop_interval
            if now >= next_fault:
                self.inject()
                next_fault = now + self.rng.expovariate(1 / config.fault_interval)
            time.sleep(0.05)
            now = time.time()
        for proc in self.procs:
            proc.paused_until = min(proc.paused_until or now, now)
        self.supervise(time.time())

    def _settle(self) -> None:
        """Wait, restarting what dies, until every file has a terminal run."""
        deadline = time.time() + self.config.settle_seconds
        while time.time() < deadline:
            self.supervise(time.time())
            if self._settled():
                return
            time.sleep(0.5)

    def _settled(self) -> bool:
        try:
            runs = self._runs()
        except Exception:
            return False
        done = sum(1 for sensor in self.sensors for r in runs[sensor] if r[1] in TERMINAL)
        return done >= sum(self.dropped.values())

    def _runs(self) -> dict[str, list[tuple[str, str]]]:
        repos = self._client()
        try:
            return {
                sensor: [
                    (r.run_key or "", r.status)
                    for r in repos.runs.recent(sensor=sensor, limit=1_000_000)
                ]
                for sensor in self.sensors
            }
        finally:
            repos.close()

    def _measure(self) -> None:
        figures = self.figures
        figures.files = sum(self.dropped.values())
        for sensor, runs in self._runs().items():
            self._measure_runs(sensor, runs)
        evaluations = read_evaluations(self.config.work_dir / "evaluations.log")
        figures.evaluations = len(evaluations)
        figures.interrupted_evaluations = sum(1 for e in evaluations if e.end is None)
        figures.overlapping = overlapping(evaluations)
        repos = self._client()
        try:
            figures.events = int(repos.client.xlen(self.keys.events))
            figures.dead_letters = int(repos.client.xlen(self.keys.dead_letters))
            for sensor in [*self.sensors, "on_success"]:
                failed = [t for t in repos.ticks.history(sensor, 100_000) if t.status == "FAILURE"]
                figures.failure_ticks += len(failed)
                figures.failure_ticks_without_cause += sum(1 for t in failed if not t.error)
                figures.failure_causes.update(f"tick: {_cause(t.error)}" for t in failed)
            failed_runs = repos.runs.recent(status="FAILURE", limit=1_000_000)
            figures.failure_causes.update(f"run: {_cause(r.error)}" for r in failed_runs)
        finally:
            repos.close()
        figures.not_running = [p.name for p in self.procs if p.dead()]

    def _measure_runs(self, sensor: str, runs: list[tuple[str, str]]) -> None:
        figures = self.figures
        figures.runs += len(runs)
        figures.run_statuses.update(status for _, status in runs)
        keys = Counter(key for key, _ in runs)
        expected = {f"{n:06d}.txt" for n in range(1, self.dropped[sensor] + 1)}
        figures.lost += sorted(f"{sensor}/{k}" for k in expected - set(keys))
        figures.duplicates += sorted(f"{sensor}/{k}" for k, n in keys.items() if n > 1)
        figures.unfinished += sorted(f"{sensor}/{k}" for k, s in runs if s not in TERMINAL)


def _cause(error: str | None) -> str:
    first = (error or "(none)").strip().splitlines()[0] if (error or "").strip() else "(none)"
    return first[:90]


@dataclass(frozen=True)
class Evaluation:
    """One sensor evaluation, from the lines it wrote (no end: its process was killed)."""

    sensor: str
    token: str
    start: float
    end: float | None


def read_evaluations(path: Path) -> list[Evaluation]:
    """Every evaluation ``evaluations.log`` records."""
    starts: dict[tuple[str, str], float] = {}
    ends: dict[tuple[str, str], float] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            sensor, token, mark, at = line.split()
            (starts if mark == "S" else ends)[(sensor, token)] = float(at)
    return [Evaluation(s, t, at, ends.get((s, t))) for (s, t), at in starts.items()]


def overlapping(evaluations: list[Evaluation]) -> list[str]:
    """Pairs of finished evaluations of one sensor that ran at the same time."""
    by_sensor: dict[str, list[Evaluation]] = {}
    for evaluation in evaluations:
        if evaluation.end is not None:
            by_sensor.setdefault(evaluation.sensor, []).append(evaluation)
    found = []
    for sensor, items in by_sensor.items():
        items.sort(key=lambda e: e.start)
        for before, after in itertools.pairwise(items):
            assert before.end is not None
            if after.start < before.end:
                found.append(f"{sensor}: {before.token} and {after.token}")
    return found
