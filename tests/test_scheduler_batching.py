"""Batch sizes follow the due load, on real processes: large under a backlog, spread when few.

A real ``lookout scheduler`` and a real ``lookout worker -c 2``.  When the
scheduler starts, every ``bulk`` sensor is due at once, more than a round
claims: those rounds go out in messages as large as the cap.  After that a
few ``steady`` sensors are due at a time: their rounds go out in small
messages, one per idle pool process but none under the least size.  What
each message carried is what the worker logs as the tick task's result;
which round claimed a tick is the first part of its id.
"""

from __future__ import annotations

import ast
import re
import signal
from collections import Counter

from lookout import Settings
from lookout.testing import Repositories
from tests.conftest import Process, Spawn, process_env, start_ready, wait_for

LOCATION = "tests.locations.sched_batching"
RESULT = re.compile(r"Task lookout\.tick_batch\[[^\]]+\] succeeded in [^:]+: (\{[^}]*\})")
BULK, STEADY = 600, 20
LIMIT, CAP, LEAST, SLOTS = 200, 100, 4, 2
ROUND_ID = 24  # a tick id is its round's id and a counter


def message_sizes(worker: Process) -> list[int]:
    """Ticks carried by each tick message the worker finished."""
    sizes = []
    for found in RESULT.finditer(worker.log_text()):
        outcome = ast.literal_eval(found.group(1))
        sizes.append(sum(int(v) for v in outcome.values()))
    return sizes


def rounds(storage: Repositories) -> Counter[str]:
    """Committed ticks per claiming round."""
    names = [f"bulk_{i}" for i in range(BULK)] + [f"steady_{i}" for i in range(STEADY)]
    return Counter(t.tick_id[:ROUND_ID] for n in names for t in storage.ticks.history(n, 100))


def test_a_backlog_goes_out_in_full_messages_and_a_few_due_in_small_ones_over_the_workers(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    env = process_env(
        settings,
        SCHED_BULK=str(BULK),
        SCHED_STEADY=str(STEADY),
        LOOKOUT_SCHEDULE_LIMIT=str(LIMIT),
        LOOKOUT_TICK_BATCH_SIZE=str(CAP),
        LOOKOUT_TICK_BATCH_MIN=str(LEAST),
    )
    worker_args = ["lookout", "worker", "-m", LOCATION, "-c", str(SLOTS), "-Q", "ticks"]
    worker = start_ready(spawn, worker_args, env, " ready.", "the worker to be ready", "worker")
    # The scheduler counts the pool processes from the worker's heartbeat.
    wait_for(lambda: bool(storage.processes.heartbeats()), 10, what="the worker's heartbeat")
    scheduler_args = ["lookout", "scheduler", "-m", LOCATION]
    scheduler = start_ready(
        spawn, scheduler_args, env, "started with", "the scheduler to start", "scheduler"
    )
    wait_for(lambda: sum(rounds(storage).values()) >= BULK + 4 * STEADY, 30, what="4 s of ticks")
    scheduler.send_signal(signal.SIGTERM)
    assert scheduler.wait(10) == 0
    # Every published message done (the scheduler stopped; none is left in flight).
    wait_for(
        lambda: sum(message_sizes(worker)) == sum(rounds(storage).values()),
        20,
        what="the worker to finish every message",
    )
    claimed = rounds(storage)
    sizes = Counter(message_sizes(worker))
    # The burst: its full rounds went out in messages of the cap.
    assert sizes[CAP] == BULK // CAP and max(sizes) == CAP, sizes
    assert sum(count for count in claimed.values() if count >= LIMIT) == BULK
    # After it, a few at a time: small messages (a round of the steady ones
    # at most) ...
    small = {size: n for size, n in sizes.items() if size != CAP}
    assert max(small) <= STEADY, sizes
    # ... and idle processes to spread them over: more messages than rounds.
    few = [count for count in claimed.values() if count < LIMIT]
    assert sum(small.values()) > len(few), (sorted(few), sizes)
    # Never split under the least size: a round of c in at most c // LEAST messages.
    assert sum(small.values()) <= sum(max(1, min(SLOTS, c // LEAST)) for c in few), sizes
