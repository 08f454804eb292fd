"""Run a sensor evaluation with a time limit that user code cannot swallow.

In a process's main thread (a Celery prefork child, the CLI) a real-time
interval timer interrupts the evaluation where it is, even inside
``time.sleep``.  What it raises derives from ``BaseException``, so a sensor's
``except Exception`` does not catch it, and the timer fires again every
``REARM`` seconds until the evaluation is out.  If the sensor still has not
given up ``hard_after`` seconds past its deadline (it swallows even that),
the process ends itself with ``HARD_EXIT_STATUS``.  Code that never returns
to Python (a C loop: ``sum(range(10**13))``) runs no signal handler at all:
a CPU-time timer whose signal (``SIGPROF``) keeps its default action, death,
ends the process once the evaluation has used ``seconds + hard_after`` (and
a little) of CPU.  Either way a worker's pool process is replaced by Celery, and the
worker records the tick as a FAILURE saying how its process ended.
The process's ``SIGALRM`` handler belongs to these evaluations once the first
one ran: it is installed once and left in place.

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

from lookout._base.errors import SensorTimeoutError

T = TypeVar("T")
log = logging.getLogger(__name__)

REARM = 0.5  # seconds between the timer's repeated firings past the deadline
HARD_EXIT_STATUS = 70


class _Deadline(BaseException):
    """Raised inside the evaluation; a BaseException so ``except Exception`` lets it by."""


class EvaluationTimer:
    """Times evaluations out, one after another, in the process that runs them.

    The ``SIGALRM`` handler is installed once per process (again only if
    something replaced it) and stays: a tick then only arms and disarms the
    timer, two system calls instead of four on every tick.  Outside an
    evaluation the handler does nothing.  Nothing to do in the constructor:
    the handler goes in on the first call, in the process that evaluates
    (a pool process, after the fork).
    """

    def __init__(self) -> None:
        self._armed = False  # off once an evaluation is over: a late firing must not escape
        self._prof_pid = 0  # the process whose SIGPROF was set to its default action
        self._deadline = 0.0
        self._hard_after: float | None = None
        self._what = ""

    def call(
        self, fn: Callable[[], T], seconds: float, what: str, hard_after: float | None = None
    ) -> T:
        """Call ``fn``; raise ``SensorTimeoutError`` naming ``what`` if it runs past ``seconds``.

        ``hard_after``: seconds past the deadline after which the process exits
        (main thread only; ``None``: never).
        """
        if threading.current_thread() is not threading.main_thread() or not hasattr(
            signal, "setitimer"
        ):
            return _with_thread(fn, seconds, what)
        if signal.getsignal(signal.SIGALRM) != self._expire:
            signal.signal(signal.SIGALRM, self._expire)
        self._what, self._hard_after = what, hard_after
        self._deadline = time.monotonic() + seconds
        self._armed = True
        hard = hard_after is not None and hasattr(signal, "ITIMER_PROF")
        if hard and self._prof_pid != os.getpid():
            # Once per process: SIGPROF's default action (death) is the limit.
            signal.signal(signal.SIGPROF, signal.SIG_DFL)
            self._prof_pid = os.getpid()
        signal.setitimer(signal.ITIMER_REAL, seconds, REARM)
        if hard:
            # Later than the hard exit can come (REARM after it at most), so
            # Python code that swallows its timeout ends by the exit status.
            signal.setitimer(signal.ITIMER_PROF, seconds + (hard_after or 0.0) + 2 * REARM)
        try:
            return fn()
        except _Deadline:
            self._armed = False
            raise SensorTimeoutError(f"{what} timed out after {seconds:g} s") from None
        finally:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            if hard:
                signal.setitimer(signal.ITIMER_PROF, 0)

    def _expire(self, signum: int, frame: FrameType | None) -> None:
        if not self._armed:
            return
        late = time.monotonic() - self._deadline
        if self._hard_after is not None and late > self._hard_after:
            log.critical("%s ignored its timeout for %.1f s; ending this process", self._what, late)
            os._exit(HARD_EXIT_STATUS)
        raise _Deadline


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
