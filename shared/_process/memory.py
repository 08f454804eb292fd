"""A per-evaluation memory limit: a sensor that allocates without bound fails its tick.

Around an evaluation the process's address-space limit (``RLIMIT_AS``) is set
to its current size plus the allowance, and put back after.  Past it, an
allocation fails: Python raises ``MemoryError`` in the sensor, which the
tick turns into a FAILURE naming the limit, and the process lives on.
Where the size cannot be read (not Linux), the evaluation runs without one.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import time
from collections.abc import Iterator

from lookout._process.pid import current_pid

MIB = 1024 * 1024


def _address_space() -> int | None:
    """This process's virtual size in bytes (Linux), else ``None``."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class MemoryLimitError(MemoryError):
    """An evaluation went over its memory allowance."""


class MemoryLimit:
    """Sets the limit around each evaluation of one process.

    Reading the process's size costs more than an evaluation of a trivial
    sensor, so the size the allowance counts from is read again only once
    ``refresh`` seconds have passed (or in a new process after a fork).
    Inside a ``session`` (a worker's message: evaluations in a row) the limit
    stays set between evaluations and is put back when the session ends, so
    an evaluation calls ``setrlimit`` only when its limit differs from the
    one in force: once a second at most, instead of three calls each.
    Between evaluations the process runs under the limit too; it is the
    process's size plus the whole allowance, which committing a tick does not
    come near.  Once set in a session, the limit stands for the evaluations
    after it until ``refresh`` seconds have passed: an evaluation then only
    looks at the clock (no pid, no sizes), and a session is run by the one
    process that began it.
    """

    def __init__(self, mib: int, *, refresh: float = 1.0) -> None:
        self.mib = mib
        self.refresh = refresh
        self._base: int | None = None
        self._read_at = -math.inf
        self._pid = 0
        self._sessions = 0
        self._before: tuple[int, int] | None = None  # the limits to put back
        self._in_force: int | None = None  # the soft limit set now
        # Until when (monotonic) the limit in force stands in a session without a look.
        self._stands_until = -math.inf

    def _baseline(self) -> int | None:
        now = time.monotonic()
        if self._pid != current_pid() or now - self._read_at >= self.refresh:
            self._base, self._read_at, self._pid = _address_space(), now, current_pid()
        return self._base

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Evaluations in a row: the limit stays set between them, put back at the end."""
        self._sessions += 1
        try:
            yield
        finally:
            self._sessions -= 1
            if not self._sessions:
                self._put_back()

    def applied(self, what: str) -> _Applied:
        """A context that runs its body with at most ``mib`` MiB more address space
        (0: no limit).

        A ``MemoryError`` inside becomes a ``MemoryLimitError`` naming ``what``
        and the limit.  (A class, not a generator: it is entered on every tick.)
        """
        return _Applied(self, what)

    def _enter(self) -> bool:
        """Set the limit for an evaluation; whether one is set.  (Not called in
        a session while the limit in force stands: ``_Applied.__enter__``.)
        """
        size = self._baseline() if self.mib > 0 else None
        if size is None:
            return False
        if self._before is None:
            self._before = resource.getrlimit(resource.RLIMIT_AS)
        hard = self._before[1]
        limit = size + self.mib * MIB
        if hard != resource.RLIM_INFINITY and limit > hard:
            limit = hard
        if limit != self._in_force:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
            self._in_force = limit
        self._stands_until = self._read_at + self.refresh
        return True

    def _put_back(self) -> None:
        if self._before is not None:
            resource.setrlimit(resource.RLIMIT_AS, self._before)
            self._before, self._in_force = None, None
            self._stands_until = -math.inf


class _Applied:
    """``MemoryLimit.applied``: the limit set on entry, put back on exit outside a session."""

    __slots__ = ("limit", "set", "what")

    def __init__(self, limit: MemoryLimit, what: str) -> None:
        self.limit = limit
        self.what = what
        self.set = False

    def __enter__(self) -> None:
        limit = self.limit
        # In a session, its limit still fresh: in force already (no call, per tick).
        self.set = (
            limit._in_force is not None and time.monotonic() < limit._stands_until
        ) or limit._enter()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if not self.set:
            return
        if not self.limit._sessions:
            self.limit._put_back()
        if isinstance(exc, MemoryError):
            raise MemoryLimitError(
                f"{self.what} went over its memory limit of {self.limit.mib} MiB "
                f"(LOOKOUT_SENSOR_MEMORY_MB): {exc or 'allocation failed'}"
            ) from None
