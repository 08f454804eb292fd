"""A pool process's side of tick messages, alone: its Python and Redis's time per tick.

The capacity phases measure the whole stack, every process sharing the
cores, so they cannot say which side of a tick grew.  This runs what a pool
process does with a message (``WorkerTasks.tick_batch``: the take-up, the
evaluations, the commits) in this process, with no Celery, on ticks the
leader's own ``claim_due`` claimed and ``publish`` published: S trivial
sensors of the bench's code location, all due each round, claimed and
evaluated M at a time.  Counted around each message: this process's CPU
(``time.process_time``) and Redis's (``INFO cpu``); and, from Redis's slow
log set to log every command, the time Redis spent in each script
(``claim_due``, ``publish``, ``take_up``, ``commit_many``).
The first round warms up (plans, scripts loaded) and is not counted.

``python -m bench.pool_side`` runs it on an embedded redis-server.  With
``--callgrind`` it counts instructions per tick instead (``bench.callgrind``):
Redis's, run under callgrind, which stay within ~1-2% from run to run where
its time moves by 15%.  This process's too when it runs under callgrind
itself; keep its messages small then (``--per-message 50``): a message that
runs longer than a second renews each tick's lease as it begins it
(``workers/batch.py``'s ``RESTART_AFTER``), which a message at full speed never
does, and Redis's count then holds those renewals and its own idle loop.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from bench.callgrind import Counted, under_callgrind, wrapper
from bench.location import sensor_name, write_location
from bench.memory import register_sensors
from lookout._core.scripts import SCRIPTS
from lookout._core.settings import Settings
from lookout._core.storage import Repositories
from lookout._tools.location import load_definitions
from lookout._tools.redis_server import EmbeddedRedis
from lookout.workers.tasks import WorkerTasks
from lookout.workers.ticks import pack_columns

P = ParamSpec("P")
R = TypeVar("R")

# The scripts a tick passes through on this side, by the name SCRIPTS gives them.
MEASURED = {
    "lease_claim_due": "claim_due",
    "lease_publish": "publish",
    "lease_take_up": "take_up",
    "lease_commit_many": "commit",
}
# Room in Redis's slow log for every command of one message.
SLOWLOG_LEN = 10_000
# Redis's own settings of the slow log, put back after: log what takes 10 ms, keep 128.
SLOWLOG_DEFAULTS = {"slowlog-log-slower-than": 10_000, "slowlog-max-len": 128}


def _sha(name: str) -> str:
    return hashlib.sha1(SCRIPTS[name].encode()).hexdigest()


def _redis_cpu(storage: Repositories) -> float:
    info = storage.client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _script_us(storage: Repositories, names: dict[str, str]) -> Counter[str]:
    """Redis's time (us) in each measured script since the slow log was last read."""
    spent: Counter[str] = Counter()
    for entry in storage.client.slowlog_get(SLOWLOG_LEN):
        words = entry["command"].split(b" ", 2)
        if len(words) > 1 and words[0].upper() == b"EVALSHA":
            spent[names.get(words[1].decode(), "other")] += int(entry["duration"])
    storage.client.slowlog_reset()
    return spent


@dataclass
class _Spent:
    """What messages cost: this process's and Redis's CPU (s), each script's time (us)."""

    ticks: int = 0
    python: float = 0.0
    redis: float = 0.0
    scripts: Counter[str] = field(default_factory=Counter)

    def add(self, other: _Spent) -> None:
        self.ticks += other.ticks
        self.python += other.python
        self.redis += other.redis
        self.scripts += other.scripts


def _message(
    storage: Repositories,
    tasks: WorkerTasks,
    token: str,
    per_message: int,
    shas: dict[str, str],
    counted: Counted | None,
) -> _Spent:
    """One message: the leader's claim of ``per_message`` due ticks and their publish,
    then the pool's side.

    With ``counted``, its instructions are counted and no time is read (an
    ``INFO`` inside the window would be counted as the tick's work).
    """
    if counted is not None:
        counted.start()
    claim = storage.ticks.claim_due(
        token, time.time(), limit=per_message, ttl=60.0, tick_prefix=uuid.uuid4().hex[:24]
    )
    if claim is None:
        raise RuntimeError("bench.pool_side lost the leader lock")
    ticks = claim.claimed
    # Published as the scheduler does once its messages are sent (a take-up
    # keeps the leases of a round published lately).
    storage.ticks.publish(ticks, tasks.settings.inflight_ttl)
    message = pack_columns(ticks.sensors, ticks.id_prefix, ticks.ids, ticks.due_at)
    if counted is not None:
        outcome = tasks.tick_batch(uuid.uuid4().hex, [message], {})
        counted.stop()
        spent = _Spent(len(ticks))
    else:
        redis_before, python_before = _redis_cpu(storage), time.process_time()
        outcome = tasks.tick_batch(uuid.uuid4().hex, [message], {})
        python_after, redis_after = time.process_time(), _redis_cpu(storage)
        spent = _Spent(
            len(ticks),
            python_after - python_before,
            redis_after - redis_before,
            _script_us(storage, shas),  # this message's and its claim's
        )
    if outcome["committed"] != len(ticks):
        raise RuntimeError(f"a message committed {outcome} of {len(ticks)} ticks")
    return spent


def _per_tick(spent: _Spent, counted: Counted | None) -> dict[str, Any]:
    n = spent.ticks
    if counted is not None:
        # Under callgrind, times tell nothing: the counts alone.
        return {
            "instructions_per_tick": {
                role: counted.totals[pid] / n for role, pid in counted.roles.items()
            }
        }
    return {
        "python_us_per_tick": spent.python / n * 1e6,
        "redis_us_per_tick": spent.redis / n * 1e6,
        "script_us_per_tick": {name: us / n for name, us in sorted(spent.scripts.items())},
    }


def measure(
    redis_url: str,
    workdir: Path,
    sensors: int,
    per_message: int,
    rounds: int,
    counted: Counted | None = None,
) -> dict[str, Any]:
    """The figures per tick, over ``rounds`` counted rounds of ``sensors`` ticks in
    messages of ``per_message``.  With ``counted``, its processes' instructions are
    counted around each counted message and its claim, instead of times, and
    Redis's slow log is left alone (its entries are work Redis would not do).
    """
    settings = Settings(redis_url=redis_url)
    storage = Repositories.from_settings(settings)
    definitions = load_definitions(file=str(write_location(workdir, sensors, 0.25, tag="pool")))
    names = [sensor_name(i) for i in range(sensors)]
    shas = {_sha(script): label for script, label in MEASURED.items()}
    token = uuid.uuid4().hex
    try:
        storage.client.flushall()
        register_sensors(storage, names, 0.25, 0.0)
        if not storage.leader.acquire(token, 3600.0):
            raise RuntimeError("bench.pool_side could not take the leader lock")
        if counted is None:
            storage.client.config_set("slowlog-log-slower-than", 0)
            storage.client.config_set("slowlog-max-len", SLOWLOG_LEN)
            storage.client.slowlog_reset()
        tasks = WorkerTasks(definitions, settings)
        spent = _Spent()
        for k in range(rounds + 1):
            # Every sensor due again, claimed and evaluated a message at a time.
            storage.client.zadd(storage.keys.due, dict.fromkeys(names, 0.0), xx=True)
            for _ in range(0, sensors, per_message):
                one = _message(storage, tasks, token, per_message, shas, counted if k else None)
                if k > 0:
                    spent.add(one)
        return {
            "sensors": sensors,
            "ticks_per_message": per_message,
            "ticks": spent.ticks,
            **_per_tick(spent, counted),
        }
    finally:
        for setting, value in SLOWLOG_DEFAULTS.items():
            storage.client.config_set(setting, value)
        storage.client.close()


def _count(name: str, default: int, text: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A whole-number option of at least 1."""
    option: Callable[[Callable[P, R]], Callable[P, R]] = click.option(
        name, default=default, type=click.IntRange(min=1), show_default=True, help=text
    )
    return option


@click.command()
@_count("--sensors", 10_000, "Sensors, all due each round.")
@_count("--per-message", 1000, "Ticks a message carries.")
@_count("--rounds", 5, "Rounds counted, after a warm-up.")
@click.option(
    "--callgrind",
    is_flag=True,
    help="Count instructions per tick instead of times (bench.callgrind): Redis's, run under "
    "callgrind, "
    "and this process's when it runs under it too "
    "(valgrind --tool=callgrind --instr-atstart=no python -m bench.pool_side --callgrind).",
)
def main(sensors: int, per_message: int, rounds: int, callgrind: bool) -> None:
    """A pool process's side of tick messages, per tick, on an embedded redis-server."""
    with (
        tempfile.TemporaryDirectory(prefix="lookout-pool-") as tmp,
        EmbeddedRedis(wrapper=wrapper(Path(tmp)) if callgrind else ()) as redis,
    ):
        counted = None
        if callgrind:
            assert redis.process is not None  # started
            roles = {"redis": redis.process.pid}
            if under_callgrind():
                roles["python"] = os.getpid()
            counted = Counted(roles)
        result = measure(redis.url, Path(tmp), sensors, per_message, rounds, counted)
    click.echo(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
