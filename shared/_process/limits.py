"""Size limits on what one tick may write, so that no sensor can fill Redis.

A cursor over ``Settings.max_cursor_bytes`` and more run requests than
``Settings.max_run_requests`` fail the tick with a message naming the size
and the setting.  A tick record stays small whatever the sensor did: a
cursor over ``RECORD_CURSOR_BYTES`` is kept in it as its digest and size
(the sensor's own copy is the only full one), and the request list, error
and traceback are cut to bounded lengths.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from lookout._base.errors import SensorEvaluationError

# A cursor up to this size is kept in full in the tick record (before and after).
RECORD_CURSOR_BYTES = 4096
# At most this many run requests are listed in a tick record (all are launched).
RECORD_REQUESTS = 1000
RECORD_ERROR_CHARS = 8 * 1024
RECORD_TRACEBACK_CHARS = 64 * 1024


class TickTooLargeError(SensorEvaluationError):
    """A tick would write more than its limits allow."""


def check_cursor(sensor: str, cursor: bytes | None, limit: int) -> None:
    """Refuse a cursor over ``limit`` bytes (0: no limit)."""
    if cursor is not None and 0 < limit < len(cursor):
        raise TickTooLargeError(
            f"sensor '{sensor}' set a cursor of {len(cursor)} bytes, over the limit of "
            f"{limit} bytes (LOOKOUT_MAX_CURSOR_BYTES); the cursor was not stored"
        )


def check_requests(sensor: str, requests: Sequence[Any], limit: int) -> None:
    """Refuse more than ``limit`` run requests in one tick (0: no limit)."""
    if 0 < limit < len(requests):
        raise TickTooLargeError(
            f"sensor '{sensor}' asked for {len(requests)} runs in one tick, over the limit "
            f"of {limit} (LOOKOUT_MAX_RUN_REQUESTS); none was launched: ask for fewer per "
            "tick and keep the rest for the next one with the cursor"
        )


def recorded_cursor(cursor: bytes | None) -> tuple[bytes | None, str | None]:
    """What a tick record keeps of a cursor: the cursor, or (if large) its digest and size."""
    if cursor is None or len(cursor) <= RECORD_CURSOR_BYTES:
        return cursor, None
    return None, f"sha256:{hashlib.sha256(cursor).hexdigest()} ({len(cursor)} bytes)"


def cut(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit} more characters]"
