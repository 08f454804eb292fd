"""Run a sensor evaluation with a time limit.

In a process's main thread (a Celery prefork child, the CLI) a real-time
interval timer interrupts the evaluation where it is, even inside
``time.sleep``.  Elsewhere the evaluation runs in a daemon thread that is
abandoned at the deadline: the tick still fails on time, the thread ends when
the user's code does.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

from shared._errors import SensorTimeoutError

T = TypeVar("T")


def call_with_timeout(fn: Callable[[], T], seconds: float, what: str) -> T:
    """Call ``fn``; raise ``SensorTimeoutError`` naming ``what`` if it runs past ``seconds``."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        return _with_timer(fn, seconds, what)
    return _with_thread(fn, seconds, what)


def _with_timer(fn: Callable[[], T], seconds: float, what: str) -> T:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise SensorTimeoutError(f"{what} timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _with_thread(fn: Callable[[], T], seconds: float, what: str) -> T:
    box: dict[str, T] = {}
    failure: list[BaseException] = []

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=target, name=f"lookout-eval-{what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise SensorTimeoutError(f"{what} timed out after {seconds:g} s")
    if failure:
        raise failure[0]
    return box["value"]
