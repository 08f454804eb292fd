"""Redis memory per sensor once its tick history is full, through the real lease scripts.

``N`` sensors of one kind are registered (as ``SensorStore.sync`` writes them,
RUNNING, due) on a flushed Redis, then ticked round after round through the
scripts a deployment runs: the leader's ``claim_due``, a worker's ``begin``
and ``commit_many`` (the commit script and its ``write_record``), with each
tick's times one second after the last, as a 1 s sensor's are.  Records are
built as the worker builds them (tick id, worker, due, start, end, a small
cursor).  After more rounds than the history keeps, Redis's ``used_memory``
over the registered-only figure, and ``MEMORY USAGE`` of one sensor's keys,
say what its history costs.  The kinds:

- ``quiet``: SKIPPED every tick with the same reason (one entry, counted);
- ``alternating``: SKIPPED and SUCCESS (one run request, a new cursor) in turn,
  so that no two ticks in a row fold: the count bound is what holds it.

The launch stream's requests are removed before measuring: they are the
launchers' queue, not the sensor's.  ``python -m bench.memory`` runs it alone.
"""

from __future__ import annotations

import math
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bench.stack import Stack
from lookout._base.codec import encode, encode_value
from lookout._base.wire import LaunchRequest, TickRecord
from lookout._core.settings import Settings
from lookout._core.storage import Repositories, TickCommit
from lookout._tools.redis_server import EmbeddedRedis
from lookout.workers.batch import holder_name

KINDS = ("quiet", "alternating")
CHUNK = 1000
# Sensors per kind in ``make bench`` (enough for used_memory to be per-sensor).
MEMORY_SENSORS = 2000
# The bound, Redis bytes per sensor with a full history.
TARGET_BYTES = 2048


def _used_memory(storage: Repositories) -> int:
    # Redis counts its clients' buffers in used_memory, and a pipeline of a
    # thousand commits leaves a large one: measured on a new connection once
    # the old ones are closed and the server had a moment to free them.
    storage.client.connection_pool.disconnect()
    time.sleep(1.0)
    return int(storage.client.info("memory")["used_memory"])


def register_sensors(storage: Repositories, names: list[str], interval: float, due: float) -> None:
    """The sensors as the leader's sync records them (RUNNING, due at ``due``), in bulk:
    ``SensorStore.sync`` makes a round trip per sensor.
    """
    for start in range(0, len(names), CHUNK):
        part = names[start : start + CHUNK]
        pipe = storage.client.pipeline(transaction=False)
        for name in part:
            pipe.hset(
                storage.keys.sensor(name),
                mapping={"default": "RUNNING", "interval": repr(interval)},
            )
        pipe.sadd(storage.keys.sensors, *part)
        pipe.zadd(storage.keys.due, dict.fromkeys(part, due))
        pipe.execute()


def _record(
    kind: str, sensor: str, tick_id: str, k: int, started: float, worker: str
) -> TickRecord:
    success = kind == "alternating" and k % 2 == 1
    before = encode_value(f"2026-11-29T00:00:{k - 1:06d}" if success else f"cursor-{k // 2}")
    after = encode_value(f"2026-11-29T00:00:{k:06d}") if success else before
    return TickRecord(
        tick_id=tick_id,
        sensor=sensor,
        status="SUCCESS" if success else "SKIPPED",
        started_at=started,
        ended_at=started + 0.000_312,
        due_at=started - 0.001_8,
        skip_reason=None if success else "no new files in the bucket",
        requests=(
            [{"request_id": f"{tick_id}-0", "run_key": None, "job_name": "noop_job"}]
            if success
            else []
        ),
        cursor_before=before,
        cursor_after=after,
        worker=worker,
    )


def _commit(record: TickRecord, holder: str, due: float) -> TickCommit:
    launches: list[tuple[str | None, bytes]] = []
    if record.requests:
        request = LaunchRequest(
            request_id=record.requests[0]["request_id"],
            sensor=record.sensor,
            tick_id=record.tick_id,
            job_name="noop_job",
            run_key=None,
            run_config={},
            tags={"dagster/sensor_name": record.sensor},
            partition_key=None,
            created_at=record.started_at,
        )
        launches.append((None, encode(request)))
    return TickCommit(record, launches, True, record.cursor_after, due, holder=holder)


def _round(
    storage: Repositories, kind: str, k: int, t0: float, token: str, worker: str, holder: str
) -> int:
    """One round: every due sensor claimed, begun and committed (tick ``k``, at ``t0 + k``)."""
    ticks = storage.ticks
    done = 0
    while True:
        claimed = ticks.claim_due(
            token, time.time(), limit=CHUNK, ttl=60.0, tick_prefix=uuid.uuid4().hex[:24]
        )
        if claimed is None:
            raise RuntimeError("bench.memory lost the leader lock")
        if not claimed.ticks:
            return done
        refs = [(c.sensor, c.tick_id) for c in claimed.ticks]
        ticks.begin(refs, holder, ttl=60.0)
        # Due again next round: the far future now, made due by the next round.
        commits = [
            _commit(_record(kind, name, tick_id, k, t0 + k, worker), holder, time.time() + 1e6)
            for name, tick_id in refs
        ]
        ticks.commit_many(commits)
        done += len(commits)


def measure_kind(
    redis_url: str,
    kind: str,
    sensors: int,
    rounds: int,
    echo: Callable[[str], None],
    listpack_value: int = 64,
) -> dict[str, Any]:
    """Bytes of Redis per sensor of ``kind`` after ``rounds`` ticks each, on a flushed Redis.

    ``listpack_value``: Redis's ``hash-max-listpack-value`` (its default: 64):
    a sensor hash with a longer value is a hash table, several times larger.
    """
    settings = Settings(redis_url=redis_url)
    storage = Repositories.from_settings(settings)
    try:
        storage.client.flushall()
        storage.client.config_set("hash-max-listpack-value", listpack_value)
        empty = _used_memory(storage)
        names = [f"m{i:07d}" for i in range(sensors)]
        register_sensors(storage, names, 1.0, time.time() - 1)
        registered = _used_memory(storage)
        token = uuid.uuid4().hex
        assert storage.leader.acquire(token, 3600.0)
        worker = f"{socket.gethostname()}:{os.getpid()}"
        # As a worker's pool process names itself: host, pid and its Celery job.
        holder = holder_name(socket.gethostname(), os.getpid(), str(uuid.uuid4()))
        t0 = time.time() - rounds
        started = time.perf_counter()
        for k in range(rounds):
            storage.client.zadd(storage.keys.due, dict.fromkeys(names, 0.0), xx=True)
            _round(storage, kind, k, t0, token, worker, holder)
        took = time.perf_counter() - started
        storage.leader.release(token)
        storage.client.delete(storage.keys.launch, storage.keys.leader)
        rounds_kept = storage.client.keys(storage.keys.claim_round("*"))
        if rounds_kept:
            storage.client.delete(*rounds_kept)
        full = _used_memory(storage)
        one = names[0]
        hash_bytes = int(storage.client.memory_usage(storage.keys.sensor(one)) or 0)
        ticks_bytes = int(storage.client.memory_usage(storage.keys.ticks(one)) or 0)
        counters = int(storage.client.memory_usage(storage.keys.counters, samples=0) or 0)
        entries = storage.client.lrange(storage.keys.ticks(one), 0, -1)
        kept = storage.ticks.history(one, 1000)
        newest = kept[0]
        old_entry = len(encode(newest)) + 1  # the format before: full record + flags
        storage.client.config_set("hash-max-listpack-value", 64)
        result = {
            "kind": kind,
            "hash_max_listpack_value": listpack_value,
            "sensors": sensors,
            "ticks_per_sensor": rounds,
            "history_entries": len(entries),
            "newest_entry_count": newest.count,
            "entry_bytes": [len(e) for e in entries[:4]],
            "entry_bytes_before": old_entry,
            "registered_bytes_per_sensor": (registered - empty) / sensors,
            "bytes_per_sensor": (full - empty) / sensors,
            "history_bytes_per_sensor": (full - registered) / sensors,
            "memory_usage": {
                "sensor_hash": hash_bytes,
                "ticks_list": ticks_bytes,
                "counters_share": counters / sensors,
                "total": hash_bytes + ticks_bytes + counters / sensors,
            },
            "ticks_per_s": sensors * rounds / max(took, 1e-9),
        }
        echo(
            f"  {kind} (hash-max-listpack-value {listpack_value}): "
            f"{result['bytes_per_sensor']:.0f} B per sensor "
            f"({result['history_bytes_per_sensor']:.0f} B of history, "
            f"{len(entries)} entries), {result['ticks_per_s']:.0f} ticks/s through the scripts"
        )
        return result
    finally:
        storage.client.close()


def history_memory(
    redis_url: str, sensors: int, rounds: int | None, echo: Callable[[str], None]
) -> dict[str, Any]:
    """Every kind, one after the other on the same Redis; ``rounds``: 2x the history's count + 1."""
    size = Settings().tick_history
    rounds = rounds or 2 * size + 1
    echo(f"memory: {sensors} sensors per kind, {rounds} ticks each (history: {size}) ...")
    out: dict[str, Any] = {
        "tick_history": size,
        "tick_history_age_s": Settings().tick_history_age,
    }
    for kind in KINDS:
        out[kind] = measure_kind(redis_url, kind, sensors, rounds, echo)
    # The same with sensor hashes kept as listpacks (a Redis setting, README).
    for kind in KINDS:
        out[f"{kind}_listpack_256"] = measure_kind(redis_url, kind, sensors, rounds, echo, 256)
    out["worst_bytes_per_sensor"] = max(out[k]["bytes_per_sensor"] for k in KINDS)
    return out


def memory_targets(memory: dict[str, Any]) -> list[dict[str, Any]]:
    """The tick history's memory targets, judged from ``history_memory``'s result."""
    found = []
    for kind in KINDS:
        value = float(memory[kind]["bytes_per_sensor"])
        found.append(
            {
                "target": f"Redis bytes per {kind} sensor, history full, <= {TARGET_BYTES}",
                "value": value,
                "bound": TARGET_BYTES,
                "met": value <= TARGET_BYTES,
            }
        )
    return found


_QUIET_LOCATION = '''"""Generated by bench.memory: {sensors} quiet sensors, every {interval:g} s."""

import lookout as dg


def nothing_new():
    return dg.SkipReason("nothing new")


defs = dg.Definitions(
    sensors=[
        dg.sensor(
            name=f"q{{i:07d}}",
            minimum_interval_seconds={interval!r},
            default_status=dg.DefaultSensorStatus.RUNNING,
        )(nothing_new)
        for i in range({sensors})
    ],
)
'''


def _sampled_keys(storage: Repositories, sensors: int, sample: int = 200) -> dict[str, float]:
    """MEMORY USAGE of a sensor's own keys (hash, history), averaged over a sample of them."""
    step = max(1, sensors // sample)
    names = [f"q{i:07d}" for i in range(0, sensors, step)][:sample]
    pipe = storage.client.pipeline(transaction=False)
    for name in names:
        pipe.memory_usage(storage.keys.sensor(name))
        pipe.memory_usage(storage.keys.ticks(name))
    sizes = [int(v or 0) for v in pipe.execute()]
    entries = sum(int(n) for n in _lengths(storage, names))
    return {
        "sensor_hash": sum(sizes[0::2]) / len(names),
        "ticks_list": sum(sizes[1::2]) / len(names),
        "history_entries": entries / len(names),
    }


def _lengths(storage: Repositories, names: list[str]) -> list[int]:
    pipe = storage.client.pipeline(transaction=False)
    for name in names:
        pipe.llen(storage.keys.ticks(name))
    return [int(n) for n in pipe.execute()]


def _stack_sample(storage: Repositories, tick_queue: str) -> dict[str, float]:
    """What the stack did so far: committed ticks (the counters hash: exact, whatever
    the history folds), FAILURE ticks (the event stream's entries: the quiet sensors
    request no run, so each is a FAILURE tick told there), ticks lapsed in the queue,
    the tick queue's messages and whether the leader holds back for its bound.
    """
    counters = storage.metrics.counters()
    leader = next((p for p in storage.processes.heartbeats() if p.leader), None)
    return {
        "committed_ticks": float(sum(counters.ticks.values())),
        "failure_ticks": float(storage.client.xlen(storage.keys.events)),
        "lapsed_ticks": float(storage.metrics.sensor_counts().lapsed),
        "queued_messages": float(storage.client.llen(storage.keys.celery_queue(tick_queue))),
        "held_back": float(leader is not None and leader.details.get("held_back") == "1"),
    }


def stack_memory(
    redis: EmbeddedRedis,
    workdir: Path,
    sensors: int,
    interval: float,
    duration: float,
    echo: Callable[[str], None],
    workers: int = 2,
    every: float = 60.0,
) -> dict[str, Any]:
    """The real stack (scheduler, worker, launcher) on ``sensors`` quiet sensors for ``duration`` s.

    Every ``every`` s: Redis's ``used_memory`` per sensor, the ticks committed
    (and per second since the last sample), FAILURE ticks, ticks lapsed in the
    queue, the tick queue's length and whether the leader holds back.
    """
    storage = Repositories.from_settings(Settings(redis_url=redis.url))
    try:
        storage.client.flushall()
        empty = _used_memory(storage)
        logs = workdir / f"memory-stack-{sensors}"
        logs.mkdir(parents=True, exist_ok=True)
        location = logs / "quiet_location.py"
        location.write_text(_QUIET_LOCATION.format(sensors=sensors, interval=interval))
        echo(f"memory on the stack: {sensors} sensors every {interval:g} s for {duration:g} s ...")
        samples: list[dict[str, float]] = []
        with Stack(location, redis.url, logs, workers) as stack:
            stack.wait_ready(storage.processes, storage.leader, timeout=1800.0)
            # The stack's processes read LOOKOUT_* from this environment too.
            queue = Settings.from_env().tick_queue
            start = time.monotonic()
            last = (0.0, 0.0)
            while (elapsed := time.monotonic() - start) < duration:
                time.sleep(min(every, duration - elapsed))
                stack.check_alive()
                at = time.monotonic() - start
                sample = {"at_s": round(at, 1), **_stack_sample(storage, queue)}
                done = sample["committed_ticks"]
                sample["ticks_per_s"] = round((done - last[1]) / max(1e-9, at - last[0]), 1)
                sample["bytes_per_sensor"] = (_used_memory(storage) - empty) / sensors
                last = (at, done)
                samples.append(sample)
                echo(
                    f"  {sample['at_s']:.0f} s: {done:.0f} ticks ({sample['ticks_per_s']:.0f}/s), "
                    f"{sample['failure_ticks']:.0f} FAILURE, {sample['lapsed_ticks']:.0f} lapsed, "
                    f"queue {sample['queued_messages']:.0f} messages"
                    f"{' (held back)' if sample['held_back'] else ''}, "
                    f"{sample['bytes_per_sensor']:.0f} B per sensor, load {os.getloadavg()[0]:.1f}"
                )
            keys = _sampled_keys(storage, sensors)
        one = storage.ticks.history("q0000000", 100)
        return {
            "keys_bytes_per_sensor": keys,
            "sensors": sensors,
            "interval_s": interval,
            "duration_s": duration,
            "samples": samples,
            "bytes_per_sensor": samples[-1]["bytes_per_sensor"] if samples else math.nan,
            "ticks_per_s": samples[-1]["committed_ticks"] / duration if samples else math.nan,
            "first_sensor_history": [[t.status, t.count] for t in one],
        }
    finally:
        storage.client.close()


@click.command()
@click.option("-s", "--sensors", default=10_000, show_default=True, help="Sensors per kind.")
@click.option("-r", "--rounds", default=0, help="Ticks per sensor (0: 2x the history's count + 1).")
@click.option("--stack-sensors", default=0, help="Also run the real stack on this many sensors.")
@click.option("--stack-interval", default=60.0, show_default=True, help="Their interval, s.")
@click.option("--stack-duration", default=600.0, show_default=True, help="How long, s.")
@click.option("--stack-sample", default=60.0, show_default=True, help="Sampled every, s.")
def main(
    sensors: int,
    rounds: int,
    stack_sensors: int,
    stack_interval: float,
    stack_duration: float,
    stack_sample: float,
) -> None:
    """Redis bytes per sensor with a full tick history, on an embedded redis-server."""
    import json

    result: dict[str, Any] = {}
    with EmbeddedRedis() as redis, tempfile.TemporaryDirectory(prefix="lookout-mem-") as tmp:
        if sensors:
            result["scripts"] = history_memory(redis.url, sensors, rounds or None, click.echo)
        if stack_sensors:
            result["stack"] = stack_memory(
                redis,
                Path(tmp),
                stack_sensors,
                stack_interval,
                stack_duration,
                click.echo,
                every=stack_sample,
            )
    click.echo(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
