"""What a run is to the author API: its status, what a step sees of it, what it materialized.

The bottom of the execution modules: ``execute`` runs steps and fills these,
``events`` and ``run_events`` describe them, sensors read them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lookout._author.asset_key import AssetKey


class DagsterRunStatus(enum.StrEnum):
    """The status of a run, named as Dagster names it; equal to its name as a string."""

    QUEUED = "QUEUED"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELED = "CANCELED"


@dataclass(frozen=True)
class RunInfo:
    """What a running step can see of its run (Dagster's ``DagsterRun``, in short).

    ``status`` is a ``DagsterRunStatus`` value: STARTED while steps run, then
    SUCCESS or FAILURE on the finished result's ``dagster_run``.
    """

    run_id: str
    job_name: str
    tags: Mapping[str, str]
    run_config: Mapping[str, Any]
    status: str = "STARTED"


@dataclass(frozen=True)
class MaterializationRecord:
    """An asset was materialized by a run, for a partition when the run has one.

    ``metadata`` is in its wire form (``lookout._author.metadata.metadata_to_wire``);
    ``kind`` says whether it is a materialization or an observation an op logged.
    """

    asset_key: AssetKey
    run_id: str
    partition: str | None
    tags: Mapping[str, str]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    observation: bool = False
    step: str | None = None  # the op or asset that reported it
