"""Who is evaluating a tick: a name for this process that another process can check.

The name is ``host:pid:start`` (the process's start time, so that a pid
reused by a new process does not pass for the old one).  Whether such a
process is alive can only be told on its own host; elsewhere it is assumed
alive, and a tick it held is recovered by its in-flight mark expiring.
"""

from __future__ import annotations

import os
import socket


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), else "0"."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            # The command name (field 2) may hold spaces: count from its end.
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def this_process() -> str:
    """This process's evaluator name."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def known_dead(holder: str) -> bool:
    """True when ``holder`` names a process of this host that no longer runs."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname():
        return False
    _, pid_text, started = parts
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError):
        return False
    return _start_time(pid) != started
