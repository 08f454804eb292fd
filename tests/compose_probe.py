"""What the compose test reads of lookout's state, printed as one JSON document.

``tests/compose_stack.py`` pipes this file into ``python -`` inside a running
lookout container, so it reads the stack's Redis through lookout's own storage
with the container's settings (``LOOKOUT_REDIS_URL``, ``LOOKOUT_KEY_PREFIX``).
The sensor's name is the first argument.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from lookout import Settings
from lookout._core.storage import Repositories


def probe(storage: Repositories, sensor: str) -> dict[str, Any]:
    seconds, micros = storage.client.time()
    return {
        "now": seconds + micros / 1e6,
        "processes": [
            {"id": p.id, "role": p.role, "host": p.host, "leader": p.leader}
            for p in storage.processes.heartbeats()
        ],
        "runs": [
            {"run_id": r.run_id, "run_key": r.run_key, "status": r.status, "sensor": r.sensor}
            for r in storage.runs.recent(limit=1000)
        ],
        "ticks": [
            {"tick_id": t.tick_id, "status": t.status, "started_at": t.started_at}
            for t in storage.ticks.history(sensor, limit=100)
        ],
    }


if __name__ == "__main__":
    print(json.dumps(probe(Repositories.from_settings(Settings.from_env()), sys.argv[1])))
