"""Child processes of ``lookout dev``: output to the console and to a log file each, stopped fast.

Each child leads its own process group (so a Ctrl-C reaches only ``lookout
dev``, which stops the children itself, and a child's own children, such as
Celery's pool, go with it).  A thread per child copies its output, line by
line, to ``<logs>/<role>.log`` and to the console behind the role's prefix;
the log files stay after exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from lookout._tools.prefixed import PrefixedConsole


@dataclass(frozen=True)
class Child:
    """One started child: its role, process, log file and the thread copying its output."""

    role: str
    process: subprocess.Popen[bytes]
    log_path: Path
    copier: threading.Thread

    @property
    def pid(self) -> int:
        return self.process.pid

    def describe_exit(self) -> str:
        """``exited with status 1`` or ``was killed by SIGKILL``."""
        code = self.process.returncode
        if code is not None and code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with status {code}"


def _copy(stream: IO[bytes], log_path: Path, role: str, console: PrefixedConsole) -> None:
    with log_path.open("wb") as log:
        for raw in iter(stream.readline, b""):
            log.write(raw)
            log.flush()
            console.line(role, raw.decode("utf-8", "replace").rstrip("\r\n"))
    stream.close()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The group outlives its leader while the leader's children live on.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class Children:
    """The children started so far, in order."""

    def __init__(self, log_dir: Path, console: PrefixedConsole) -> None:
        self.log_dir = log_dir
        self.console = console
        self.started: list[Child] = []

    def start(self, role: str, argv: Sequence[str], env: Mapping[str, str]) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert process.stdout is not None  # stdout=PIPE
        log_path = self.log_dir / f"{role}.log"
        copier = threading.Thread(
            target=_copy,
            args=(process.stdout, log_path, role, self.console),
            name=f"lookout-dev-{role}",
            daemon=True,
        )
        copier.start()
        child = Child(role, process, log_path, copier)
        self.started.append(child)
        return child

    def first_exited(self) -> Child | None:
        """A child that is no longer running, if any."""
        return next((c for c in self.started if c.process.poll() is not None), None)

    def tail(self, child: Child, lines: int = 20) -> list[str]:
        """The last ``lines`` lines of a child's log, once its output has been copied."""
        child.copier.join(0.5)
        try:
            text = child.log_path.read_text(errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def stop(self, grace: float) -> None:
        """SIGTERM to every child at once; SIGKILL their groups after ``grace`` seconds.

        SIGTERM goes to each child alone, not its group: a Celery worker
        stops its own pool once its tasks are done, where a pool process
        given SIGTERM would die mid-task.
        """
        for child in self.started:
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.started:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child.pid, signal.SIGKILL)
                child.process.wait()
        for child in self.started:
            # A leader gone, its own children (a pool whose parent was killed) may not be.
            _signal_group(child.pid, signal.SIGKILL)
        for child in self.started:
            child.copier.join(max(0.1, deadline - time.monotonic()))
