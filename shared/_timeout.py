"""Run a sensor evaluation with a time limit that user code cannot swallow.

In a process's main thread (a Celery prefork child, the CLI) a real-time
interval timer interrupts the evaluation where it is, even inside
``time.sleep``.  What it raises derives from ``BaseException``, so a sensor's
``except Exception`` does not catch it, and the timer fires again every
``REARM`` seconds until the evaluation is out.  If the sensor still has not
given up ``hard_after`` seconds past its deadline (it swallows even that, or
sits in C code that ignores signals), the process ends itself: a worker's
pool process is replaced by Celery and the tick is handled as a lost one.

Elsewhere (no main thread) the evaluation runs in a daemon thread that is
abandoned at the deadline: the tick still fails on time.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

from shared._errors import SensorTimeoutError

T = TypeVar("T")
log = logging.getLogger(__name__)

REARM = 0.5  # seconds between the timer's repeated firings past the deadline
HARD_EXIT_STATUS = 70


class _Deadline(BaseException):
    """Raised inside the evaluation; a BaseException so ``except Exception`` lets it by."""


def call_with_timeout(
    fn: Callable[[], T], seconds: float, what: str, hard_after: float | None = None
) -> T:
    """Call ``fn``; raise ``SensorTimeoutError`` naming ``what`` if it runs past ``seconds``.

    ``hard_after``: seconds past the deadline after which the process exits
    (main thread only; ``None``: never).
    """
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        return _with_timer(fn, seconds, what, hard_after)
    return _with_thread(fn, seconds, what)


def _with_timer(fn: Callable[[], T], seconds: float, what: str, hard_after: float | None) -> T:
    deadline = time.monotonic() + seconds
    armed = [True]  # off once the evaluation is over: a late firing must not escape

    def expire(signum: int, frame: FrameType | None) -> None:
        if not armed[0]:
            return
        late = time.monotonic() - deadline
        if hard_after is not None and late > hard_after:
            log.critical("%s ignored its timeout for %.1f s; ending this process", what, late)
            os._exit(HARD_EXIT_STATUS)
        raise _Deadline

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, REARM)
    try:
        return fn()
    except _Deadline:
        armed[0] = False
        raise SensorTimeoutError(f"{what} timed out after {seconds:g} s") from None
    finally:
        armed[0] = False
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
