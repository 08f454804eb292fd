"""Keep the ``context.log`` lines of one evaluation or run, bounded, for its record.

Dagster users read a sensor's log lines on its tick and an op's on its run;
lookout keeps them the same way.  A ``LogCapture`` is a logging handler put on
the context's logger for the duration of the evaluation: it keeps at most
``max_lines`` lines of at most ``max_chars`` characters each, and when it had
to cut, its last line says how many lines were left out, so a record never
grows without bound and never hides that it was cut.
"""

from __future__ import annotations

import logging
import threading
import time

# A tick record is written on every evaluation: it keeps less than a run's.
TICK_MAX_LINES = 100
RUN_MAX_LINES = 1000
MAX_CHARS = 2000


def _clock_text(at: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}"


def let_info_through(logger: logging.Logger) -> None:
    """Make ``logger`` pass INFO lines, setting the level on its family where it can.

    Each ``setLevel`` clears the level cache of every logger in the process,
    so it costs as much as there are loggers: one per sensor, ten thousand
    on a big worker.  Setting it on each sensor's own logger at its first
    tick made the first ticks of N sensors cost N squared.  Setting it once
    on their family (``lookout.sensor``, the name up to the last dot), which
    every sensor's logger inherits from, costs one clear per process; a
    logger that has a level of its own above INFO still gets INFO itself.
    """
    if logger.getEffectiveLevel() <= logging.INFO:
        return
    family, _, _ = logger.name.rpartition(".")
    if family:
        parent = logging.getLogger(family)
        if parent.getEffectiveLevel() > logging.INFO:
            parent.setLevel(logging.INFO)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)


class LogCapture(logging.Handler):
    """A bounded list of log lines (and event lines) of one evaluation or run."""

    def __init__(self, max_lines: int = TICK_MAX_LINES, max_chars: int = MAX_CHARS) -> None:
        super().__init__(logging.DEBUG)
        self.max_lines = max_lines
        self.max_chars = max_chars
        self._lines: list[str] = []
        self._dropped = 0
        # No formatter of its own: logging's default one gives the message
        # (and the traceback of a context.log.exception), and costs nothing per tick.
        self._guard = threading.Lock()
        # Handed to an evaluation and not yet off its logger (``on`` ended):
        # not to be reused (TickRunner), as an abandoned evaluation may still log.
        self.in_use = False

    def clear(self) -> None:
        """Forget the lines kept: the handler is reused for the next evaluation."""
        if not self._lines and not self._dropped:
            return  # most evaluations log nothing: no lock to take (~0.4 us a tick)
        with self._guard:
            self._lines = []
            self._dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a bad %-format in the user's call: keep what it was
            text = f"{record.msg!r} % {record.args!r}"
        self.add(record.created, record.levelname, text)

    def add(self, at: float, level: str, text: str) -> None:
        """Keep one line (``level`` is a log level, or EVENT for a run's events)."""
        line = f"{_clock_text(at)} {level:<7} {text}"
        if len(line) > self.max_chars:
            line = line[: self.max_chars] + f" ... ({len(line) - self.max_chars} characters cut)"
        with self._guard:
            if len(self._lines) < self.max_lines:
                self._lines.append(line)
            else:
                self._dropped += 1

    def lines(self) -> list[str]:
        """The lines kept so far, with a last line saying how many were left out, if any."""
        if not self._lines and not self._dropped:
            return []  # the common case, read without the lock: a line added now is as
            # late as one added just after the lock was let go
        with self._guard:
            kept = list(self._lines)
            dropped = self._dropped
        if dropped:
            kept.append(f"... {dropped} more log lines not kept (at most {self.max_lines})")
        return kept

    def on(self, logger: logging.Logger) -> _On:
        """A context that captures what ``logger`` logs at INFO and above while it runs.

        The logger is made to let INFO through (Dagster keeps context.log's
        info lines) unless it lets through more already, and is left so (see
        ``let_info_through``).  (A class, not a generator: it is entered on every tick.)
        """
        return _On(self, logger)


class _On:
    """``LogCapture.on``: the handler on ``logger`` from entry to exit."""

    __slots__ = ("capture", "logger")

    def __init__(self, capture: LogCapture, logger: logging.Logger) -> None:
        self.capture = capture
        self.logger = logger

    def __enter__(self) -> None:
        let_info_through(self.logger)
        # The list itself, not addHandler and removeHandler: they take the
        # logging module's lock, twice a tick, only to keep a handler from
        # being added twice, and this one is added here alone.  (Loggers read
        # the list without that lock: a list append or remove is atomic.)
        self.logger.handlers.append(self.capture)
        self.capture.in_use = True

    def __exit__(self, *exc: object) -> None:
        handlers = self.logger.handlers
        if self.capture in handlers:  # else taken off already, by the sensor's own code
            handlers.remove(self.capture)
        self.capture.in_use = False
