"""How a sensor is fed, apart from the sensor definitions so that evaluation can name it."""

from __future__ import annotations

import enum


class SensorKind(enum.Enum):
    """How a sensor is fed: polled as it is, or handed events from the event stream."""

    STANDARD = "standard"
    ASSET = "asset"
    RUN_STATUS = "run_status"
    # Reads the materializations of several assets through per-asset cursors
    # (lookout._author.multi_asset_context); the runtime does not feed it yet.
    MULTI_ASSET = "multi_asset"
