"""A trigger's payload: a small JSON value carried from a push trigger to the tick it asks for.

A lookout extension (Dagster has no such thing): ``trigger_sensor(...,
payload=...)`` stores it packed on the sensor's hash, the next tick reads it
(``SensorState.trigger_payload``) as ``context.trigger_payload`` and the
tick's commit is followed by its removal.  Each payload is packed with an id
of its own, so that removing the one a tick read never removes a newer one
sent meanwhile.
"""

from __future__ import annotations

import uuid
from typing import Any

from lookout._base.codec import decode_value, encode_value
from lookout._base.errors import CodecError, LookoutError

# Packed bytes at most: a payload says what happened, it does not carry the data.
PAYLOAD_LIMIT = 16 * 1024


class PayloadError(LookoutError):
    """A payload that cannot be carried: too large, or not a plain value."""


def pack_payload(value: Any) -> bytes:
    """``value`` with a fresh id, as the bytes the sensor hash keeps."""
    try:
        packed = encode_value({"id": uuid.uuid4().hex, "value": value})
    except CodecError as exc:
        raise PayloadError(f"the trigger payload cannot be stored: {exc}") from exc
    if len(packed) > PAYLOAD_LIMIT:
        raise PayloadError(
            f"the trigger payload is {len(packed)} bytes packed, more than the "
            f"{PAYLOAD_LIMIT} allowed"
        )
    return packed


def unpack_payload(raw: bytes | None) -> Any:
    """The value a packed payload carries (``None`` for no payload)."""
    if raw is None:
        return None
    packed = decode_value(raw)
    return packed.get("value") if isinstance(packed, dict) else None
