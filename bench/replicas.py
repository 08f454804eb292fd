"""``python -m bench.replicas``: what ``LOOKOUT_REDIS_MIN_REPLICAS=1`` adds to a commit.

A primary and one replica on this machine (loopback), lookout's real commit
script: flushes of ``--batch`` ticks (one run request each, a fresh run key)
committed as a worker commits them, alternately without and with the wait
for the replica that follows a flush under the setting, so that the machine's
load weighs on both alike.  Prints medians and 95th percentiles in ms.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
import uuid

import click
import redis

from lookout._base.wire import TickRecord
from lookout._core.settings import Settings
from lookout._core.storage import Repositories, TickCommit, TickLedger
from lookout.testing import EmbeddedRedis, free_port, redis_server_binary


def _held(ledger: TickLedger, count: int) -> list[TickCommit]:
    """``count`` ticks claimed and begun by ``bench``, ready to commit."""
    commits = []
    for i in range(count):
        sensor, tick_id = f"bench_{i}", uuid.uuid4().hex
        ledger.claim(sensor, tick_id, 1e6)
        ledger.begin([(sensor, tick_id)], "bench", 1e6)
        record = TickRecord(tick_id=tick_id, sensor=sensor, status="SUCCESS", started_at=0.0)
        launch = [(uuid.uuid4().hex, b"\x80")]
        commits.append(TickCommit(record, launch, False, None, None, holder="bench"))
    return commits


def _flush_ms(ledger: TickLedger, batch: int, replicas: int) -> float:
    commits = _held(ledger, batch)
    start = time.perf_counter()
    records = ledger.commit_many(commits)
    if replicas:
        confirmed = ledger.replicas_confirming(replicas, 1.0)
        assert confirmed == replicas, confirmed
    elapsed = time.perf_counter() - start
    assert all(r is not None for r in records)
    return 1000 * elapsed


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
    }


@click.command()
@click.option("--rounds", type=int, default=400, show_default=True)
@click.option("--batch", "batches", type=int, multiple=True, default=(1, 100), show_default=True)
def main(rounds: int, batches: tuple[int, ...]) -> None:
    """Measure and print the figures as JSON."""
    with EmbeddedRedis() as primary, tempfile.TemporaryDirectory() as directory:
        port = free_port()
        replica = subprocess.Popen(
            [
                redis_server_binary(),
                *("--port", str(port), "--bind", "127.0.0.1", "--dir", directory),
                *("--save", "", "--replicaof", "127.0.0.1", str(primary.port)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            link = redis.Redis(port=port)
            while link.info("replication").get("master_link_status") != "up":
                time.sleep(0.1)
            link.close()
            storage = Repositories.from_settings(Settings(redis_url=primary.url))
            figures: dict[str, object] = {}
            for batch in batches:
                plain: list[float] = []
                waited: list[float] = []
                for _ in range(rounds):
                    plain.append(_flush_ms(storage.ticks, batch, 0))
                    waited.append(_flush_ms(storage.ticks, batch, 1))
                    storage.client.flushdb()
                base, wait = _summary(plain), _summary(waited)
                figures[f"flush of {batch}"] = {
                    "min_replicas_0": base,
                    "min_replicas_1": wait,
                    "added_median_ms": round(wait["median_ms"] - base["median_ms"], 3),
                }
            storage.close()
        finally:
            replica.kill()
            replica.wait()
    with open("/proc/loadavg") as handle:
        figures["loadavg"] = handle.read().split()[:3]
    click.echo(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
