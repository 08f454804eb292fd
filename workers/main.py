"""The worker and launcher processes: what ``lookout worker`` and ``lookout launcher`` run.

Both are given a loaded ``Definitions`` (the code location is imported once,
before the worker's pool forks) and explicit ``Settings``; each refuses a
Redis that may evict its keys and heartbeats while it runs.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Sequence
from types import FrameType

from celery.signals import worker_process_init

from lookout._author.definitions import Definitions
from lookout._core.settings import Settings
from lookout._core.storage import Repositories
from lookout._process.guards import check_eviction_policy
from lookout._process.heartbeat import Heartbeat
from lookout.workers.app import make_celery
from lookout.workers.consumer import dead_letter_consumer
from lookout.workers.launcher import Launcher, run_submitter
from lookout.workers.pool import SturdyTaskPool
from lookout.workers.tasks import register_tasks

log = logging.getLogger(__name__)


def _repositories(settings: Settings) -> Repositories:
    repos = Repositories.from_settings(settings)
    repos.server.ping()
    check_eviction_policy(repos.server, log)
    return repos


def run_worker(
    definitions: Definitions,
    settings: Settings,
    *,
    concurrency: int | None = None,
    queues: Sequence[str] = (),
    loglevel: str = "INFO",
) -> int:
    """Run a Celery prefork worker on the tick and run queues until it is told to stop."""
    repos = _repositories(settings)
    app = make_celery(settings)
    tasks = register_tasks(app, definitions, settings)
    # Each pool process, the first ones and every replacement, is ready to
    # evaluate before it takes its first message.
    worker_process_init.connect(lambda **_: tasks.prepare_process(), weak=False)
    queues = list(queues) or [settings.tick_queue, settings.run_queue]
    size = concurrency or os.cpu_count() or 1
    worker = app.Worker(
        hostname=f"lookout-{os.getpid()}@{socket.gethostname()}",
        # Celery's prefork pool, surviving pool processes killed at awkward moments.
        pool_cls=SturdyTaskPool,
        concurrency=size,
        queues=queues,
        loglevel=loglevel,
        # Nothing to sync between workers: skip the startup and gossip chatter.
        without_mingle=True,
        without_gossip=True,
        consumer_cls=dead_letter_consumer(tasks.dead_letter),
    )
    details = {"queues": ",".join(queues), "concurrency": str(size)}
    heartbeat = Heartbeat(
        repos.processes, "worker", interval=settings.heartbeat_interval, details=lambda: details
    )
    with heartbeat:
        worker.start()
    return int(worker.exitcode or 0)


def run_launcher(definitions: Definitions, settings: Settings, loglevel: str = "INFO") -> int:
    """Launch runs from the launch stream until SIGTERM or SIGINT."""
    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    repos = _repositories(settings)
    app = make_celery(settings)
    launcher = Launcher(
        definitions,
        settings,
        run_submitter(app, settings),
        launches=repos.launches,
        runs=repos.runs,
        events=repos.events,
        dead_letters=repos.dead_letters,
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            # A second signal: do not wait out Redis retries. Unacknowledged
            # entries stay pending and another launcher claims them.
            raise SystemExit(1)
        log.info("launcher %s stopping (signal %d)", launcher.consumer, signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    def details() -> dict[str, str]:
        retried = str(launcher.retrier.retried)
        return {
            "consumer": launcher.consumer,
            "launched": str(launcher.launched),
            "retried": retried,
            # Back-pressure: the run queue is at LOOKOUT_RUN_QUEUE_LIMIT.
            "paused": "1" if launcher.paused else "0",
        }

    log.info("launcher %s reading %s", launcher.consumer, repos.keys.launch)
    with Heartbeat(
        repos.processes, "launcher", interval=settings.heartbeat_interval, details=details
    ):
        launcher.run(stop)
    return 0
