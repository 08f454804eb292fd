"""``--json``: what the listing commands print for scripts, one JSON document per command.

Records become objects with the wire types' field names; stored cursors are
decoded; bytes (a cursor may hold some) become base64 text, so every
document is plain JSON.
"""

from __future__ import annotations

import base64
import json
from dataclasses import fields
from typing import Any

from lookout._base.codec import decode_value
from lookout._base.wire import DeadLetter, RunRecord, TickRecord
from lookout._tools.operator import SensorRow


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return repr(value)


def dumps(document: object) -> str:
    """The document as JSON, keys sorted, indented for a person who looks at it anyway."""
    return json.dumps(document, default=_plain, indent=2, sort_keys=True)


def _fields(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record)}


def tick_json(tick: TickRecord) -> dict[str, Any]:
    data = _fields(tick)
    for name in ("cursor_before", "cursor_after"):
        raw = data[name]
        data[name] = None if raw is None else decode_value(raw)
    data["duration"] = tick.duration
    data["range_started_at"] = tick.range_started_at
    data["run_request_ids"] = tick.run_request_ids
    data["dropped_run_keys"] = tick.dropped_run_keys
    return data


def run_json(run: RunRecord) -> dict[str, Any]:
    return _fields(run)


def sensor_json(row: SensorRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "jobs": list(row.jobs),
        "minimum_interval_seconds": row.interval,
        "status": row.status,
        "in_flight": row.in_flight,
        "last_tick": None if row.last_tick is None else tick_json(row.last_tick),
    }


def dead_letter_json(entry_id: str, letter: DeadLetter) -> dict[str, Any]:
    return {"id": entry_id, **_fields(letter)}
