"""Jitter: sensors of one interval spread their ticks instead of ticking in herds.

A lookout extension (Dagster has none; dagster#20484 asks for it), off by
default.  A sensor's jitter window is its ``lookout/jitter_seconds`` tag,
else ``LOOKOUT_SENSOR_JITTER`` (a share of its interval).  With a window:

- each tick's next due time comes up to the window later than the interval
  alone says (``tick_delay``), by a fraction drawn from the sensor's name and
  the tick's id, so sensors that once ticked together drift apart;
- a sensor that never ticked (a new deployment's) is first due up to one
  interval after the sync (``first_delay``), by a fraction drawn from its
  name, so a thousand new sensors do not all tick at once.

Jitter only delays: a tick never comes sooner than the interval allows
(invariant 1).  The fractions are hashes, not random draws, so that the
same sensor and tick always get the same delay (and a test can compute it).
"""

from __future__ import annotations

import hashlib
from typing import Any

from lookout._author.sensors import SensorDefinition


def _fraction(text: str) -> float:
    """A number in [0, 1) fixed by ``text``, evenly spread over texts."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def jitter_window(sensor: SensorDefinition[Any, Any], share: float) -> float:
    """How much later than its interval a sensor's tick may come: its tag, else ``share``."""
    if sensor.jitter_seconds is not None:
        return sensor.jitter_seconds
    return share * float(sensor.minimum_interval_seconds)


def tick_delay(name: str, tick_id: str, window: float) -> float:
    """The delay added to the next due time after tick ``tick_id`` of sensor ``name``."""
    return window * _fraction(f"{name}\0{tick_id}") if window > 0 else 0.0


def first_delay(sensor: SensorDefinition[Any, Any], share: float) -> float:
    """How long after a sync a sensor that never ticked is first due (0 without jitter)."""
    if jitter_window(sensor, share) <= 0:
        return 0.0
    return float(sensor.minimum_interval_seconds) * _fraction(sensor.name)
