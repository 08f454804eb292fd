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
from collections.abc import Iterator
from contextlib import contextmanager

# A tick record is written on every evaluation: it keeps less than a run's.
TICK_MAX_LINES = 100
RUN_MAX_LINES = 1000
MAX_CHARS = 2000


# lookout's loggers of one sensor, schedule or job are named <kind>.<name>.
_KINDS = ("lookout.sensor", "lookout.schedule", "lookout.run")


def let_info_through(logger: logging.Logger) -> None:
    """Make ``logger`` let INFO through, with one ``setLevel`` for all loggers of its kind.

    Each ``setLevel`` clears every logger's level cache, so one per sensor
    cost O(sensors) each, O(sensors squared) over a process's first ticks:
    40% of a pool process's CPU with 10,000 sensors.  lookout's own logger of
    a sensor, schedule or job has no level of its own: it inherits INFO from
    its kind's logger, set once.  Any other logger gets the level itself.
    """
    kind = logger.name.rpartition(".")[0]
    if logger.level == logging.NOTSET and kind in _KINDS:
        logging.getLogger(kind).setLevel(logging.INFO)
    else:
        logger.setLevel(logging.INFO)


def _clock_text(at: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}"


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
        with self._guard:
            kept = list(self._lines)
            dropped = self._dropped
        if dropped:
            kept.append(f"... {dropped} more log lines not kept (at most {self.max_lines})")
        return kept

    @contextmanager
    def on(self, logger: logging.Logger) -> Iterator[None]:
        """Capture what ``logger`` logs at INFO and above while the block runs.

        The logger is made to let INFO through (Dagster keeps context.log's
        info lines) unless it lets through more already, and is left so
        (``let_info_through``).
        """
        if logger.getEffectiveLevel() > logging.INFO:
            let_info_through(logger)
        logger.addHandler(self)
        try:
            yield
        finally:
            logger.removeHandler(self)
