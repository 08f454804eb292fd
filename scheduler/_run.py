"""Running a scheduler as a process: until SIGTERM or SIGINT, then a clean exit."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from lookout._author.definitions import Definitions
from lookout._core.settings import Settings
from lookout._core.storage import Repositories
from lookout.scheduler._loop import Scheduler


def run_scheduler(
    definitions: Definitions, settings: Settings, repos: Repositories | None = None
) -> Scheduler:
    """Schedule ``definitions`` until SIGTERM/SIGINT; a leader releases its lock on the way out."""
    if repos is None:
        repos = Repositories.from_settings(settings)
    scheduler = Scheduler.on(definitions, settings, repos)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        scheduler.stop()

    if threading.current_thread() is not threading.main_thread():
        # Signals reach only the main thread; the caller stops this one.
        scheduler.run()
        return scheduler
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return scheduler
