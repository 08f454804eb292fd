"""A pool process's side of tick messages, alone: its Python and Redis's time per tick.

The capacity phases measure the whole stack, every process sharing the
cores, so they cannot say which side of a tick grew.  This runs what a pool
process does with a message (``WorkerTasks.tick_batch``: the take-up, the
evaluations, the commits) in this process, with no Celery, on ticks the
leader's own ``claim_due`` claimed: S trivial sensors of the bench's code
location, all due each round, claimed and evaluated M at a time.  Counted
around each message: this process's CPU (``time.process_time``) and Redis's
(``INFO cpu``); and, from Redis's slow log set to log every command, the
time Redis spent in each script (``claim_due``, ``take_up``, ``commit_many``).
The first round warms up (plans, scripts loaded) and is not counted.

``python -m bench.pool_side`` runs it on an embedded redis-server.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

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


def measure(
    redis_url: str, workdir: Path, sensors: int, per_message: int, rounds: int
) -> dict[str, Any]:
    """The figures per tick, over ``rounds`` counted rounds of ``sensors`` ticks in
    messages of ``per_message``.
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
        storage.client.config_set("slowlog-log-slower-than", 0)
        storage.client.config_set("slowlog-max-len", SLOWLOG_LEN)
        storage.client.slowlog_reset()
        tasks = WorkerTasks(definitions, settings)
        python = redis = 0.0
        scripts: Counter[str] = Counter()
        counted = 0
        for k in range(rounds + 1):
            # Every sensor due again, claimed and evaluated a message at a time.
            storage.client.zadd(storage.keys.due, dict.fromkeys(names, 0.0), xx=True)
            for _ in range(0, sensors, per_message):
                claim = storage.ticks.claim_due(
                    token,
                    time.time(),
                    limit=per_message,
                    ttl=60.0,
                    tick_prefix=uuid.uuid4().hex[:24],
                )
                if claim is None:
                    raise RuntimeError("bench.pool_side lost the leader lock")
                ticks = claim.claimed
                message = pack_columns(ticks.sensors, ticks.id_prefix, ticks.ids, ticks.due_at)
                redis_before, python_before = _redis_cpu(storage), time.process_time()
                outcome = tasks.tick_batch(uuid.uuid4().hex, [message], {})
                python_after, redis_after = time.process_time(), _redis_cpu(storage)
                spent = _script_us(storage, shas)  # this message's and its claim's
                if outcome["committed"] != len(ticks):
                    raise RuntimeError(f"a message committed {outcome} of {len(ticks)} ticks")
                if k > 0:
                    python += python_after - python_before
                    redis += redis_after - redis_before
                    scripts += spent
                    counted += len(ticks)
        return {
            "sensors": sensors,
            "ticks_per_message": per_message,
            "ticks": counted,
            "python_us_per_tick": python / counted * 1e6,
            "redis_us_per_tick": redis / counted * 1e6,
            "script_us_per_tick": {name: us / counted for name, us in sorted(scripts.items())},
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
def main(sensors: int, per_message: int, rounds: int) -> None:
    """A pool process's side of tick messages, per tick, on an embedded redis-server."""
    with EmbeddedRedis() as redis, tempfile.TemporaryDirectory(prefix="lookout-pool-") as tmp:
        result = measure(redis.url, Path(tmp), sensors, per_message, rounds)
    click.echo(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
