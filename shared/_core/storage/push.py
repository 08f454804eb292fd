"""Runs pushed through the monitor's API: deduplicated by run key, onto the launch stream.

A push source (``"api"`` unless a client names another) is a pseudo-sensor:
its run keys live in a run-key hash like a sensor's, under the name
``push:{source}``, which no sensor can have (sensor names are Python-style
identifiers), so a push's run key never blocks a sensor's nor the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from lookout._core.keys import Keys
from lookout._core.storage._base import Repository
from lookout._core.streams import text

# What comes before the source's name in its pseudo-sensor's name.
PUSH_PREFIX = "push:"


def push_sensor(source: str) -> str:
    """The pseudo-sensor name of push source ``source`` (its runs' ``sensor``)."""
    return PUSH_PREFIX + source


@dataclass(frozen=True)
class PushedLaunch:
    """The outcome of a pushed launch: launched now, or the run key's earlier launch."""

    launched: bool
    request_id: str  # this request's id, or the earlier one's when the key was used


class PushStore(Repository):
    """Launch requests pushed through the API, one per run key, ever."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        super().__init__(client, keys)
        self._launch = self._script("push_launch")

    def launch(
        self, source: str, run_key: str | None, request_id: str, entry: bytes
    ) -> PushedLaunch:
        """Append ``entry`` (an encoded LaunchRequest) unless ``run_key`` was pushed before.

        Atomic: claiming the key and appending the request are one step, so
        concurrent pushes of one key launch once (invariant 3 for pushes).
        """
        keys = [self.keys.run_keys(push_sensor(source)), self.keys.launch]
        args: list[str | bytes] = [
            "0" if run_key is None else "1",
            run_key or "",
            request_id,
            entry,
        ]
        launched, request = self._launch(keys=keys, args=args)
        return PushedLaunch(bool(launched), text(request))
