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
one ran: it is installed once and left in place.  Evaluations in a row (a
worker's message) share one armed real-time timer (``EvaluationTimer.session``),
and the CPU-time timer is armed anew only every ``PROF_REARM`` seconds of them.

Elsewhere (no main thread) the evaluation runs in a daemon thread that is
abandoned at the deadline: the tick still fails on time.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TypeVar

from lookout._base.errors import SensorTimeoutError
from lookout._process.pid import current_pid

T = TypeVar("T")
log = logging.getLogger(__name__)

REARM = 0.5  # seconds between the timer's repeated firings past the deadline
MIN_WAIT = 0.001  # the shortest the timer is set for (0 would stop it)
# Inside a session the CPU-time timer, armed for a whole evaluation's allowance
# (``seconds + hard_after + 2 * REARM``), is armed again only once this many
# seconds (monotonic) have passed since it last was: an evaluation starts with
# at least that allowance less the CPU the process used since, at most
# ``PROF_REARM`` per thread running (the evaluating one and the lease keeper's),
# so it still gets more than ``seconds + hard_after + REARM``: a sensor that
# swallows its timeout still ends by the hard exit's status, not by SIGPROF.
PROF_REARM = 0.1
HARD_EXIT_STATUS = 70

# The C function under ``signal.getsignal``, which turns every handler it
# returns into an enum member when it can, and for a Python function fails to
# at a cost of ~50 us: the check on every evaluation compares identities only.
_getsignal: Callable[[int], object] = importlib.import_module("_signal").getsignal
# What this platform's signal module offers, asked once rather than on every evaluation.
_HAS_TIMERS = hasattr(signal, "setitimer")
_HAS_PROF = hasattr(signal, "ITIMER_PROF")


class _Deadline(BaseException):
    """Raised inside the evaluation; a BaseException so ``except Exception`` lets it by."""


class EvaluationTimer:
    """Times evaluations out, one after another, in the process that runs them.

    The ``SIGALRM`` handler is installed once per process (again only if
    something replaced it) and stays.  Outside an evaluation the handler does
    nothing but stop the real-time timer.  Nothing to do in the constructor:
    the handler goes in on the first call, in the process that evaluates (a
    pool process, after the fork).

    Inside a ``session`` (a worker's message: many evaluations in a row) the
    real-time timer is not stopped after each evaluation: the next one only
    moves the deadline the handler compares with, and re-arms the timer only
    when it would fire after that deadline.  A firing before the deadline (it
    was set for an earlier evaluation) sets it for the deadline; one between
    evaluations stops it.  The CPU-time timer counts one evaluation's CPU, so
    each arms it anew, and the session stops it at its end.  So a trivial
    evaluation costs one system call instead of four and a handler lookup.
    Within a session the CPU-time timer is armed anew only every
    ``PROF_REARM`` seconds (see there), not for each evaluation: a trivial
    evaluation then makes no system call at all.
    """

    def __init__(self) -> None:
        self._armed = False  # off once an evaluation is over: a late firing must not escape
        self._prof_pid = 0  # the process whose SIGPROF was set to its default action
        self._deadline = 0.0
        self._hard_after: float | None = None
        self._what = ""
        self._handler = self._expire  # one bound method: the identity the check compares
        self._main = (0, 0)  # (pid, main thread's id) of the process that checked
        self._fires_at: float | None = None  # the real-time timer's next firing (monotonic)
        self._sessions = 0
        self._prof_armed = False  # the CPU-time timer left armed by a session's evaluation
        self._prof_at = 0.0  # when (monotonic) and for how long it was last armed
        self._prof_for = 0.0

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Evaluations in a row: the real-time timer stays armed between them, and is
        stopped when the session ends.
        """
        self._sessions += 1
        try:
            yield
        finally:
            self._sessions -= 1
            if not self._sessions and (self._fires_at is not None or self._prof_armed):
                self._stop()

    def call(
        self, fn: Callable[[], T], seconds: float, what: str, hard_after: float | None = None
    ) -> T:
        """Call ``fn``; raise ``SensorTimeoutError`` naming ``what`` if it runs past ``seconds``.

        ``hard_after``: seconds past the deadline after which the process exits
        (main thread only; ``None``: never).
        """
        pid = current_pid()
        if not self._in_main_thread(pid):
            return _with_thread(fn, seconds, what)
        if _getsignal(signal.SIGALRM) is not self._handler:
            signal.signal(signal.SIGALRM, self._handler)
        self._what, self._hard_after = what, hard_after
        now = time.monotonic()
        deadline = self._deadline = now + seconds
        self._armed = True
        if self._fires_at is None or self._fires_at > deadline:
            signal.setitimer(signal.ITIMER_REAL, seconds, REARM)
            self._fires_at = deadline
        if hard_after is not None and _HAS_PROF:
            if self._prof_pid != pid:
                # Once per process: SIGPROF's default action (death) is the limit.
                signal.signal(signal.SIGPROF, signal.SIG_DFL)
                self._prof_pid = pid
            # Later than the hard exit can come (REARM after it at most), so
            # Python code that swallows its timeout ends by the exit status.
            self._arm_prof(now, seconds + hard_after + 2 * REARM)
        try:
            return fn()
        except _Deadline:
            self._armed = False
            raise SensorTimeoutError(f"{what} timed out after {seconds:g} s") from None
        finally:
            self._armed = False
            if not self._sessions:
                self._stop()

    def _arm_prof(self, now: float, allowance: float) -> None:
        """Arm the CPU-time timer for ``allowance`` unless, in a session, it was armed
        for as much less than ``PROF_REARM`` ago.
        """
        if (
            self._sessions
            and self._prof_armed
            and self._prof_for == allowance
            and now - self._prof_at < PROF_REARM
        ):
            return
        signal.setitimer(signal.ITIMER_PROF, allowance)
        self._prof_armed, self._prof_at, self._prof_for = True, now, allowance

    def _in_main_thread(self, pid: int) -> bool:
        # Checked on every call, cheaply: the main thread's id only changes with the process.
        if self._main[0] != pid:
            self._main = (pid, threading.main_thread().ident or 0)
        return _HAS_TIMERS and threading.get_ident() == self._main[1]

    def _stop(self) -> None:
        """Stop both timers (only ever between evaluations)."""
        self._fires_at = None
        signal.setitimer(signal.ITIMER_REAL, 0)
        if self._prof_armed:
            self._prof_armed = False
            signal.setitimer(signal.ITIMER_PROF, 0)

    def _expire(self, signum: int, frame: FrameType | None) -> None:
        if not self._armed:
            self._stop()  # between evaluations: nothing to time until the next one
            return
        late = time.monotonic() - self._deadline
        if late < 0:
            # Set for an earlier evaluation's deadline: wait for this one's.
            signal.setitimer(signal.ITIMER_REAL, max(-late, MIN_WAIT), REARM)
            self._fires_at = self._deadline
            return
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
