"""``lookout flower``: Celery's Flower dashboard on lookout's own Celery app.

Flower must see the app's broker transport options (the ``global_keyprefix``
under which kombu keeps lookout's queues and event channels), which a bare
``celery --broker=URL flower`` would not have; so the app comes from the same
factory the workers use.  Workers send task events (``lookout.workers.app``), so the
dashboard fills as soon as it starts.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from lookout._base.errors import LookoutError
from lookout._core.settings import Settings


def run_flower(settings: Settings, address: str, port: int, extra: Sequence[str] = ()) -> None:
    """Run Flower in this process until it is stopped."""
    if importlib.util.find_spec("flower") is None:
        raise LookoutError(
            "Flower is not installed: pip install 'lookout[flower]' (the Docker image has it)"
        )
    from lookout.workers.app import make_celery

    app = make_celery(settings)
    # Flower picks its broker view by the URL's scheme: kombu's own transport.
    app.conf.broker_transport = None
    app.start(["flower", f"--address={address}", f"--port={port}", *extra])
