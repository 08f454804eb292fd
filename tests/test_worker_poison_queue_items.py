"""Raw items pushed straight onto the Celery queues are dead-lettered; the worker lives on.

kombu decodes what it pops from a queue list as a JSON envelope before any
Celery hook runs: ``LPUSH <prefix>celery:ticks 'not json'`` used to raise in
the worker's event loop, killing the worker, and the item was lost.
"""

from __future__ import annotations

import json
from typing import Any

from lookout._core.keys import Keys
from lookout._core.settings import Settings
from lookout.testing import Repositories
from tests.conftest import Spawn, wait_for
from tests.locations.work_support import log_text, start_worker, tick_and_wait

LOCATION = "tests.locations.work_basic"

# An envelope that looks right but whose body is not the base64 it claims to be.
BAD_BODY = json.dumps(
    {
        "body": "!!!not-base64",
        "content-type": "application/x-msgpack",
        "headers": {},
        "properties": {
            "body_encoding": "base64",
            "delivery_tag": "a-tag",
            "delivery_info": {"exchange": "ticks", "routing_key": "ticks"},
        },
    }
).encode()


def test_raw_items_on_the_tick_and_run_queues_are_dead_lettered_and_the_worker_consumes_on(
    spawn: Spawn, settings: Settings, storage: Repositories, app: Any
) -> None:
    worker = start_worker(spawn, settings, LOCATION)
    keys = Keys(settings.key_prefix)
    ticks_key = keys.celery_queue(settings.tick_queue)
    runs_key = keys.celery_queue(settings.run_queue)
    pushed = [
        (ticks_key, b"not json"),
        (ticks_key, b'{"a JSON object": "but no envelope"}'),
        (ticks_key, b"\xff\xfe binary"),
        (ticks_key, BAD_BODY),
        (runs_key, b"not json"),
        (runs_key, b"[1, 2, 3]"),
    ]
    for key, item in pushed:
        storage.client.lpush(key, item)

    wait_for(lambda: len(storage.dead_letters.newest()) >= len(pushed), 15, what="the dead letters")
    letters = [letter for _, letter in storage.dead_letters.newest(100)]
    got = sorted((letter.source, letter.payload) for letter in letters)
    queue_of = {ticks_key: settings.tick_queue, runs_key: settings.run_queue}
    assert got == sorted((f"queue:{queue_of[k]}", item) for k, item in pushed)
    reasons = {letter.payload: letter.reason for letter in letters}
    assert reasons[b"not json"].startswith("not a JSON message envelope")
    assert "without properties" in reasons[b'{"a JSON object": "but no envelope"}']
    assert "not base64" in reasons[BAD_BODY]
    assert "a JSON list" in reasons[b"[1, 2, 3]"]

    # The worker is alive and still takes ticks off the queue.
    tick_and_wait(storage, settings, app, ["counter"])
    assert worker.poll() is None, log_text(worker)[-3000:]
    assert "Unrecoverable" not in log_text(worker)
    assert storage.client.llen(ticks_key) == 0 and storage.client.llen(runs_key) == 0
