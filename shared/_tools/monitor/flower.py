"""``lookout flower``: Celery's Flower dashboard on lookout's own Celery app.

Flower must see the app's broker transport options (the ``global_keyprefix``
under which kombu keeps lookout's queues and event channels), which a bare
``celery --broker=URL flower`` would not have; so the app comes from the same
factory the workers use.  Workers send no task events unless
``LOOKOUT_TASK_EVENTS`` says so (``lookout.workers.app``): Flower turns them on
in every worker as it starts and every few seconds after (its
``enable_events`` option, on by default), so the dashboard fills within
seconds.  Given the code location, Flower's app
registers lookout's tasks as the workers do (``register_tasks``: nothing runs
until a task does, and Flower runs none), so its registered-task list and its
per-task controls (rate and time limits, apply) know ``lookout.tick_batch``
and ``lookout.run``.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence

from lookout._author.definitions import Definitions
from lookout._base.errors import LookoutError
from lookout._core.settings import Settings

log = logging.getLogger(__name__)


def run_flower(
    settings: Settings,
    address: str,
    port: int,
    extra: Sequence[str] = (),
    definitions: Definitions | None = None,
) -> None:
    """Run Flower in this process until it is stopped; ``definitions`` register the tasks."""
    if importlib.util.find_spec("flower") is None:
        raise LookoutError(
            "Flower is not installed: pip install 'lookout[flower]' (the Docker image has it)"
        )
    from lookout.workers.app import make_celery
    from lookout.workers.tasks import register_tasks

    app = make_celery(settings)
    if definitions is not None:
        register_tasks(app, definitions, settings)
    else:
        log.warning(
            "no code location given (-m/-f, LOOKOUT_MODULE/LOOKOUT_FILE): Flower shows "
            "lookout's tasks as they run but does not list them as registered"
        )
    # Flower picks its broker view by the URL's scheme: kombu's own transport.
    app.conf.broker_transport = None
    app.start(["flower", f"--address={address}", f"--port={port}", *extra])
