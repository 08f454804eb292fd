"""Lines from several processes on one console, each behind its role, honcho-style.

``12:00:01 worker    | celery@host ready.``: the time, the role padded to
the longest one and coloured by role (only when the console is a terminal
and ``NO_COLOR`` is unset), then the line as the process wrote it.  Threads
print through one lock, so lines never interleave.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

import click

# honcho's order: each role gets the next colour.
COLOURS = ("cyan", "yellow", "green", "magenta", "red", "blue", "bright_cyan", "bright_yellow")


class PrefixedConsole:
    """Prints lines behind a coloured role prefix."""

    def __init__(self, roles: Sequence[str], stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.width = max(len(r) for r in roles)
        self.colours = {r: COLOURS[i % len(COLOURS)] for i, r in enumerate(roles)}
        self.colour = not os.environ.get("NO_COLOR") and self.stream.isatty()
        self._lock = threading.Lock()

    def line(self, role: str, text: str) -> None:
        prefix = f"{time.strftime('%H:%M:%S')} {role:<{self.width}} |"
        if self.colour:
            prefix = click.style(prefix, fg=self.colours.get(role, "white"))
        with self._lock:
            click.echo(f"{prefix} {text}".rstrip(), file=self.stream, color=self.colour)

    def lines(self, role: str, texts: Sequence[str]) -> None:
        for text in texts:
            self.line(role, text)
