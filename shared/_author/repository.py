"""``@repository``: Dagster's older way to gather definitions, kept for its tests' shapes.

The decorated function returns a list of assets, asset specs, jobs, sensors
and schedules; the decorator gives the ``Definitions`` they make, which
answers Dagster's repository lookups (``has_sensor_def``, ``get_job``...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from lookout._author.asset_spec import AssetSpec
from lookout._author.assets import AssetsDefinition, UnresolvedAssetJobDefinition
from lookout._author.definitions import Definitions
from lookout._author.ops import JobDefinition
from lookout._author.schedules import ScheduleDefinition
from lookout._author.sensors import SensorDefinition
from lookout._base.errors import DefinitionError


def repository(fn: Callable[[], Iterable[Any]]) -> Definitions:
    """The ``Definitions`` of what ``fn`` returns, sorted by kind."""
    assets: list[Any] = []
    jobs: list[Any] = []
    sensors: list[Any] = []
    schedules: list[Any] = []
    for item in fn():
        if isinstance(item, AssetsDefinition | AssetSpec):
            assets.append(item)
        elif isinstance(item, JobDefinition | UnresolvedAssetJobDefinition):
            jobs.append(item)
        elif isinstance(item, SensorDefinition):
            sensors.append(item)
        elif isinstance(item, ScheduleDefinition):
            schedules.append(item)
        else:
            raise DefinitionError(f"repository '{fn.__name__}' returned {item!r:.80}")
    return Definitions(assets=assets, jobs=jobs, sensors=sensors, schedules=schedules)
