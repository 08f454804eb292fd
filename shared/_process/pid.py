"""This process's id without a system call each time it is asked, kept right across forks.

``os.getpid`` is a system call on every call (the C library no longer caches
it); the evaluation timer and the memory limit ask on every tick, to notice
that they run in a new pool process after a fork.  The id is read once and
again in each child, from ``os.register_at_fork``.
"""

from __future__ import annotations

import os

# One slot, read on every call and rewritten in each child after a fork.
_PID = [os.getpid()]


def _forked() -> None:
    _PID[0] = os.getpid()


os.register_at_fork(after_in_child=_forked)


def current_pid() -> int:
    """This process's id."""
    return _PID[0]
