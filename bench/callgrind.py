"""Instructions a process runs, counted by valgrind's callgrind: CPU work a noisy machine
does not move.

On these shared 2-core machines a tick's time moves by 15% from one run to the
next and by as much within the hour on the same code, so a step worth 1-3% of
a tick cannot be told from noise in seconds.  Instructions are counted the
same whatever else the machine does (within ~1% here: the idle loops between
requests count too).  They are not time: a cache miss costs more than an
add.  They tell whether a change did less work, not how much faster it is.

A process to count is started under ``wrapper()``, counting nothing until
switched on; ``Counted`` switches counting on around each piece of measured
work and reads what that piece ran (``callgrind_control``, which reaches the
process through valgrind's gdb server: no signal, no change to its code).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

# A thread's count in ``callgrind_control -e``'s answer: "Th 1  13,078,297".
_THREAD_TOTAL = re.compile(r"^\s*Th\s+\d+\s+([\d,]+)\s*$", re.MULTILINE)


def wrapper(out_dir: Path) -> list[str]:
    """The command a counted process runs under: callgrind, counting nothing at first."""
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_dir}/callgrind.out.%p",
    ]


def under_callgrind() -> bool:
    """Whether this process runs under valgrind (its preloaded libraries are mapped)."""
    return "vgpreload" in Path("/proc/self/maps").read_text()


class Counted:
    """Processes under callgrind, by role, whose instructions are counted in windows, summed."""

    def __init__(self, roles: Mapping[str, int]) -> None:
        self.roles = dict(roles)
        self.pids = list(self.roles.values())
        self.totals = dict.fromkeys(self.pids, 0)

    def _control(self, pid: int, *args: str) -> str:
        done = subprocess.run(
            ["callgrind_control", *args, str(pid)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout

    def start(self) -> None:
        """Count from now (a window's count starts at zero)."""
        for pid in self.pids:
            self._control(pid, "--instr=on")
            self._control(pid, "--zero")

    def stop(self) -> None:
        """Add what each process ran since ``start()`` to its total, and stop counting."""
        for pid in self.pids:
            answer = self._control(pid, "-e")
            counts = _THREAD_TOTAL.findall(answer)
            if not counts:
                raise RuntimeError(f"callgrind_control gave no count for {pid}: {answer!r}")
            self.totals[pid] += sum(int(c.replace(",", "")) for c in counts)
            self._control(pid, "--instr=off")
