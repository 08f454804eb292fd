"""Where a running ``lookout dev`` tells the other commands of its directory which Redis it runs.

``lookout dev`` writes ``.lookout/dev.json`` in its working directory while
it runs and removes it on the way out; a command given neither
``--redis-url`` nor ``LOOKOUT_REDIS_URL`` reads it (there or in a folder
above), so ``lookout sensor list`` in a second terminal talks to dev's Redis
without flags.  A file left by a
dev that was killed names a dead pid and is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_DIR = ".lookout"


def state_dir(directory: Path) -> Path:
    """The folder of dev's state file and its children's logs."""
    return directory / STATE_DIR


def state_path(directory: Path) -> Path:
    return state_dir(directory) / "dev.json"


@dataclass(frozen=True)
class DevState:
    """What a running ``lookout dev`` tells the commands started beside it."""

    pid: int
    redis_url: str
    key_prefix: str
    ui_url: str


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def running_dev(directory: Path) -> DevState | None:
    """The state of the ``lookout dev`` running in ``directory``, if one is."""
    try:
        raw = json.loads(state_path(directory).read_text())
        state = DevState(
            pid=int(raw["pid"]),
            redis_url=str(raw["redis_url"]),
            key_prefix=str(raw["key_prefix"]),
            ui_url=str(raw["ui_url"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none, or not one we can read: as if dev were not running
    return state if _alive(state.pid) else None


def nearest_running_dev(directory: Path) -> DevState | None:
    """The ``lookout dev`` running in ``directory`` or the nearest folder above it, as git looks."""
    for folder in (directory, *directory.parents):
        found = running_dev(folder)
        if found is not None:
            return found
    return None


@contextlib.contextmanager
def published(directory: Path, state: DevState) -> Iterator[Path]:
    """Write ``state`` for the other commands of ``directory``; remove it on the way out.

    The file may hold a Redis password, so only its owner can read it.
    """
    path = state_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{state.pid}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(state), handle, indent=2)
    partial.replace(path)  # readers never see half a file
    try:
        yield path
    finally:
        # Only ours: a second dev that took the folder over keeps its file.
        current = running_dev(directory)
        if current is None or current.pid == state.pid:
            path.unlink(missing_ok=True)
