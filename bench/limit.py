"""The limit: a minimal batched claim/commit loop on the benchmark's Redis, not lookout.

What this machine's Redis can do for a tick engine with no engine around it:
each process claims up to 100 due ticks in one script call (each leaves the
due index, takes a lease and is marked with its tick id, and its cursor is
read), builds a small msgpack record per tick, and commits the 100 in one
script call (per tick: the mark checked, cursor and last record written, the
record pushed on a bounded history, the lease dropped, the sensor due again).
As many processes as the worker's pool, no broker, no user code, no
timeouts.  Its keys are its own (``limit:``), never lookout's layout, so
nothing here can be mistaken for lookout's data.

lookout's committed ticks/s is reported as a fraction of this loop's rate
measured in the same run, on the same Redis.

Run as ``python -m bench.limit --url URL`` to start one loop process (the
harness does).
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import click
import msgpack
import redis

from bench.procs import TreeSample
from bench.stack import lookout_env, start_process, stop_process

PREFIX = "limit:"
DUE = f"{PREFIX}due"
LEASES = f"{PREFIX}leases"
COMMITTED = f"{PREFIX}committed"
STOP = f"{PREFIX}stop"
STATE = f"{PREFIX}s:"
HISTORY = f"{PREFIX}h:"
BATCH = 100
HISTORY_SIZE = 1000

# CLAIM: up to ARGV[2] sensors due by ARGV[1] leave the due index, hold a
# lease until ARGV[3] and are marked with their tick ids (ARGV[4] and a
# counter); nothing once the stop key is set.
# KEYS: due zset, lease zset, stop key.  ARGV: now, limit, lease until, tick id prefix.
# Returns false to stop, else name, tick id and cursor of each claimed tick.
CLAIM = f"""
if redis.call('EXISTS', KEYS[3]) == 1 then
  return false
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due == 0 then
  return {{}}
end
redis.call('ZREM', KEYS[1], unpack(due))
local out = {{}}
for i, name in ipairs(due) do
  local key = '{STATE}' .. name
  local id = ARGV[4] .. i
  redis.call('ZADD', KEYS[2], ARGV[3], name)
  redis.call('HSET', key, 'inflight', id)
  out[#out + 1] = name
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', key, 'cursor') or ''
end
return out
"""

# COMMIT: each tick, at most once (its mark must still be its id): cursor
# and last record written, the record pushed on the history (trimmed to
# ARGV[2]), the lease dropped, the sensor due again at ARGV[1].
# KEYS: due zset, lease zset, committed counter.
# ARGV: next due, history size, then name, tick id, cursor, record per tick.
# Returns how many committed.
COMMIT = f"""
local size = tonumber(ARGV[2])
local done = 0
for i = 3, #ARGV, 4 do
  local name, id = ARGV[i], ARGV[i + 1]
  local key = '{STATE}' .. name
  if redis.call('HGET', key, 'inflight') == id then
    redis.call('HSET', key, 'cursor', ARGV[i + 2], 'last', ARGV[i + 3])
    redis.call('HDEL', key, 'inflight')
    local history = '{HISTORY}' .. name
    if redis.call('LPUSH', history, ARGV[i + 3]) > size then
      redis.call('LTRIM', history, 0, size - 1)
    end
    redis.call('ZREM', KEYS[2], name)
    redis.call('ZADD', KEYS[1], ARGV[1], name)
    done = done + 1
  end
end
redis.call('INCRBY', KEYS[3], done)
return done
"""


def _record(name: str, tick_id: str, due_at: float) -> bytes:
    """A tick record of the size lookout's SKIPPED records have (its fields, not its codec)."""
    now = time.time()
    packed: bytes = msgpack.packb(
        {
            "tick_id": tick_id,
            "sensor": name,
            "status": "SKIPPED",
            "started_at": now,
            "ended_at": now,
            "due_at": due_at,
            "skip_reason": "nothing new",
        }
    )
    return packed


def loop(url: str, batch: int = BATCH) -> int:
    """Claim and commit until the stop key is set; returns the ticks committed."""
    client = redis.Redis.from_url(url)
    claim = client.register_script(CLAIM)
    commit = client.register_script(COMMIT)
    prefix = uuid.uuid4().hex[:16]
    done, rounds = 0, 0
    while True:
        rounds += 1
        now = time.time()
        reply = claim(keys=[DUE, LEASES, STOP], args=[now, batch, now + 90, f"{prefix}{rounds:x}-"])
        if reply is None:
            return done
        if not reply:
            time.sleep(0.001)
            continue
        args: list[Any] = [time.time(), HISTORY_SIZE]
        for i in range(0, len(reply), 3):
            name, tick_id, cursor = reply[i].decode(), reply[i + 1].decode(), reply[i + 2]
            args += [name, tick_id, cursor, _record(name, tick_id, now)]
        done += int(commit(keys=[DUE, LEASES, COMMITTED], args=args))


def _committed(client: redis.Redis) -> int:
    return int(client.get(COMMITTED) or 0)


def rate(
    url: str,
    processes: int,
    logs: Path,
    *,
    sensors: int = 10_000,
    duration: float = 10.0,
    warmup: float = 2.0,
) -> dict[str, Any]:
    """Ticks/s and CPU per tick (loop processes and Redis) of ``processes`` loops on ``url``.

    ``sensors`` sensors, each due again as soon as its tick commits: the
    offered load is whatever the loop can take.
    """
    client = redis.Redis.from_url(url)
    client.flushall()
    info = client.info("server")
    pid = int(info["process_id"])
    now = time.time()
    for first in range(0, sensors, 10_000):
        client.zadd(DUE, {f"s{i:06d}": now for i in range(first, min(sensors, first + 10_000))})
    env = lookout_env(url, {})
    procs: list[subprocess.Popen[bytes]] = [
        start_process(
            [sys.executable, "-m", "bench.limit", "--url", url], env, logs / f"limit-{i}.log"
        )
        for i in range(processes)
    ]
    try:
        # The window opens once the loops commit (an interpreter starts
        # slowly on a busy machine) and have warmed up.
        deadline = time.monotonic() + 120
        while _committed(client) < processes * BATCH and time.monotonic() < deadline:
            _check(procs)
            time.sleep(0.05)
        time.sleep(warmup)
        _check(procs)
        trees = [TreeSample.take(p.pid) for p in procs]
        redis0, done0, start = TreeSample.take(pid), _committed(client), time.perf_counter()
        time.sleep(duration)
        after = [TreeSample.take(p.pid) for p in procs]
        redis1, done1, end = TreeSample.take(pid), _committed(client), time.perf_counter()
        _check(procs)
    finally:
        client.set(STOP, 1)
        for proc in procs:
            stop_process(proc)
    ticks = done1 - done0
    cpu: dict[str, float] = {
        "loops": sum(a.since(b) for a, b in zip(after, trees, strict=True)),
        "redis": redis1.since(redis0),
    }
    client.flushall()
    client.close()
    return {
        "processes": processes,
        "batch": BATCH,
        "sensors": sensors,
        "window_s": end - start,
        "committed_ticks": ticks,
        "ticks_per_s": ticks / (end - start),
        "cpu_s": cpu,
        "cpu_ms_per_tick": 1e3 * sum(cpu.values()) / max(1, ticks),
    }


def _check(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is not None:
            raise RuntimeError(f"a limit loop exited with {proc.returncode}")


@click.command()
@click.option("--url", required=True)
@click.option("--batch", type=int, default=BATCH, show_default=True)
def main(url: str, batch: int) -> None:
    """One claim/commit loop on ``url`` until the stop key is set."""
    loop(url, batch)


if __name__ == "__main__":
    main()
