"""What Flower sees of lookout: failed sensors in a batch's result, lookout's task names.

A real ``lookout worker`` evaluates a batch in which one sensor fails; the
task's ``task-succeeded`` event (the one Flower reads) carries a result that
counts the FAILURE tick.  Task events are off unless ``LOOKOUT_TASK_EVENTS``
says otherwise, and ``enable_events`` (what Flower sends as it starts) turns
them on in a running worker.  A real ``lookout flower`` given the code
location lists lookout's tasks among its registered ones.
"""

from __future__ import annotations

import ast
import threading
from typing import Any

from lookout import Settings
from lookout._tools.redis_server import free_port
from lookout.testing import RUN_TASK, TICK_TASK, Repositories
from tests.conftest import Spawn, process_env, start_ready, wait_for
from tests.locations.work_support import claim_ticks, publish, start_worker, wait_committed

LOCATION = "tests.locations.logs_sensors"


class TaskEvents:
    """Celery's task events, received as Flower receives them, in a thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.succeeded: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self._receiver: Any = None
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self) -> None:
        with self.app.connection() as conn:
            self._receiver = self.app.events.Receiver(
                conn,
                handlers={
                    "task-succeeded": self.succeeded.append,
                    "task-received": self.received.append,
                },
            )
            subscribed = self._receiver.on_consume_ready

            def on_consume_ready(*args: Any, **kwargs: Any) -> None:
                subscribed(*args, **kwargs)
                self.ready.set()  # subscribed: the events from now on are received

            self._receiver.on_consume_ready = on_consume_ready
            self._receiver.capture(limit=None, timeout=None, wakeup=False)

    def __enter__(self) -> TaskEvents:
        self._thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._receiver.should_stop = True
        self._thread.join(5)


def test_a_batch_with_a_failing_sensor_reports_the_failure_in_its_task_result(
    spawn: Spawn, settings: Settings, storage: Repositories, app: Any
) -> None:
    start_worker(spawn, settings, LOCATION, env={"LOOKOUT_TASK_EVENTS": "true"})
    with TaskEvents(app) as events:
        ticks = claim_ticks(storage, settings, ["meter_reader", "gauge_check"])
        publish(app, ticks)
        wait_committed(storage, ticks)
        wait_for(lambda: bool(events.succeeded), 15, what="the task-succeeded event")
    [event] = events.succeeded
    result = ast.literal_eval(event["result"])  # Flower shows the result's repr
    assert result["committed"] == 2
    assert result["failed"] == 1
    assert storage.ticks.history("gauge_check", 1)[0].status == "FAILURE"


def test_task_events_are_off_until_enable_events_turns_them_on_at_run_time(
    spawn: Spawn, settings: Settings, storage: Repositories, app: Any
) -> None:
    start_worker(spawn, settings, LOCATION)
    with TaskEvents(app) as events:
        quiet = claim_ticks(storage, settings, ["meter_reader"])
        app.send_task(TICK_TASK, args=[[t.to_wire() for t in quiet]])
        # Committed, so received (and its task-received event sent, were events on).
        wait_committed(storage, quiet)
        replies = app.control.enable_events(reply=True, timeout=10)
        assert replies and all("ok" in next(iter(r.values())) for r in replies), replies
        watched = claim_ticks(storage, settings, ["meter_reader"])
        sent = app.send_task(TICK_TASK, args=[[t.to_wire() for t in watched]])
        wait_committed(storage, watched)
        wait_for(lambda: bool(events.received), 15, what="the task-received event")
    # One channel, in order: the first message's event would have come first.
    assert [e["uuid"] for e in events.received] == [sent.id]


def test_flower_lists_lookouts_tasks_as_registered(spawn: Spawn, settings: Settings) -> None:
    port = free_port()
    args = ["lookout", "flower", "-m", LOCATION, "--port", str(port)]
    flower = start_ready(
        spawn, args, process_env(settings), "Registered tasks", "Flower to start", "flower"
    )
    wait_for(lambda: RUN_TASK in flower.log_text(), 10, what="the registered tasks' list")
    text = flower.log_text()
    listed = text[text.index("Registered tasks") :]
    assert f"'{TICK_TASK}'" in listed and f"'{RUN_TASK}'" in listed
