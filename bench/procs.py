"""CPU time and peak memory of running processes, read from /proc (Linux only).

A Celery worker is a main process and its pool children; what it costs is
the sum over the tree, so readings are taken per process and its live
descendants.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces; everything after its ')' is fixed.
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0.0 when it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # After the name: state(0) ppid(1) ... utime(11) stime(12)
    return (int(fields[11]) + int(fields[12])) / _TICKS


# /proc/stat's first line: the machine's CPU time by kind (all cores).
MACHINE_KINDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def machine_times() -> dict[str, int]:
    """The machine's CPU time so far by kind (``MACHINE_KINDS``), in clock ticks."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return dict(zip(MACHINE_KINDS, (int(v) for v in fields[: len(MACHINE_KINDS)]), strict=True))


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used (all cores), from /proc/stat."""
    times = machine_times()
    return sum(v for kind, v in times.items() if kind not in ("idle", "iowait")) / _TICKS


def children(pid: int) -> list[int]:
    """Every live descendant of ``pid``."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the process's peak resident set, KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


@dataclass(frozen=True)
class TreeSample:
    """CPU seconds per pid of a process tree at one moment."""

    cpu: dict[int, float]

    @classmethod
    def take(cls, root: int) -> TreeSample:
        return cls({p: cpu_seconds(p) for p in [root, *children(root)]})

    def since(self, earlier: TreeSample) -> float:
        """CPU seconds spent between ``earlier`` and this sample (new pids count whole)."""
        return sum(now - earlier.cpu.get(pid, 0.0) for pid, now in self.cpu.items())
