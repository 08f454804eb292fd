"""A sensor's run keys as its evaluation sees them, and a commit's run-key lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from lookout._core.keys import Keys
from lookout._core.scripts.run_keys import RUN_KEY_TRIM


@dataclass(frozen=True)
class RunKeyPolicy:
    """A lookout sensor's run-key lifecycle, for one commit (absent in Dagster's paths).

    ``rerun`` and ``run_ids`` run along the commit's launches: whether that
    request may take its key again after the key's run failed, and the run
    its key will then point to.  ``ttl``: seconds a key is kept (``None``:
    forever).
    """

    rerun: Sequence[bool]
    run_ids: Sequence[str]
    ttl: float | None = None

    def script_opts(self, keys: Keys, sensor: str) -> dict[str, Any]:
        """take_run_keys' ``opts`` (scripts/run_keys.py)."""
        return {
            "run_prefix": keys.run(""),
            "ttl": float(self.ttl or 0),
            "times": keys.run_key_times(sensor),
            "trim": RUN_KEY_TRIM,
        }


class RunKeyLookup:
    """Whether a sensor has used a run key: one read per question, nothing written."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def has(self, sensor: str, run_key: str, ttl: float | None = None) -> bool:
        """``run_key`` is used by ``sensor`` (and, with ``ttl``, taken less than that ago)."""
        if not ttl:
            return bool(self.client.hexists(self.keys.run_keys(sensor), run_key))
        pipe = self.client.pipeline(transaction=False)
        pipe.hexists(self.keys.run_keys(sensor), run_key)
        pipe.zscore(self.keys.run_key_times(sensor), run_key)
        pipe.time()
        used, taken, (seconds, micros) = pipe.execute()
        # A key with no time was used before the retention was set: kept.
        return bool(used) and (taken is None or float(taken) > seconds + micros / 1e6 - ttl)


def request_opts(
    policy: RunKeyPolicy | None, launches: Sequence[tuple[str | None, bytes]]
) -> list[list[Any]]:
    """The commit script's ``requests``: a policy adds each one's rerun flag and run id."""
    if policy is None:
        return [[key or "", payload] for key, payload in launches]
    return [
        [key or "", payload, "1" if rerun else "", run_id]
        for (key, payload), rerun, run_id in zip(
            launches, policy.rerun, policy.run_ids, strict=True
        )
    ]
