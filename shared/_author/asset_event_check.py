"""Checking the asset events a sensor reports with ``SensorResult(asset_events=...)``.

Each must be an ``AssetMaterialization`` or ``AssetObservation``; against a
code location's ``Definitions``, each must name an asset the location knows
(an asset or an ``AssetSpec``).  Either failure is a ``SensorEvaluationError``
that names the sensor, so its tick fails with the reason and commits nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lookout._author.asset_events import AssetMaterialization, AssetObservation
from lookout._author.asset_key import AssetKey
from lookout._base.errors import SensorEvaluationError

AssetEvent = AssetMaterialization | AssetObservation


def checked_asset_events(sensor_name: str, events: Sequence[Any] | None) -> list[AssetEvent]:
    """The events as given, each checked to be an asset event."""
    checked: list[AssetEvent] = []
    for event in events or []:
        if not isinstance(event, AssetMaterialization | AssetObservation):
            raise SensorEvaluationError(
                f"sensor '{sensor_name}' reported {event!r:.80} in SensorResult.asset_events; "
                "expected AssetMaterialization or AssetObservation"
            )
        checked.append(event)
    return checked


def check_known_assets(
    sensor_name: str, events: Iterable[AssetEvent], known: Iterable[AssetKey]
) -> None:
    """Refuse events for assets not in the code location (``Definitions.asset_keys``)."""
    keys = set(known)
    unknown = sorted({e.asset_key.to_user_string() for e in events if e.asset_key not in keys})
    if unknown:
        raise SensorEvaluationError(
            f"sensor '{sensor_name}' reported events for {unknown}, which are not assets of "
            "this code location; add them to Definitions(assets=[AssetSpec(...)])"
        )
