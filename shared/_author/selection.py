"""A run request's ``asset_selection``: which assets of its job one run materializes.

A sensor may ask for a run of only some assets of an asset job, as in
Dagster.  The selection travels as asset key strings (``a/b``) from the tick
to the launch request and the run record; the run executes only those steps
of its job.  The tick checks the selection against the job, so a sensor that
names assets its job does not have fails its tick with the reason, and the
run checks it again (the worker's code may be newer than the sensor's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lookout._author.asset_key import AssetKey
from lookout._author.definitions import Definitions
from lookout._author.execute import Step
from lookout._author.ops import JobDefinition
from lookout._author.requests import RunRequest
from lookout._base.errors import DefinitionError


def _key(sensor: str, item: Any) -> str:
    key = getattr(item, "key", item)  # an AssetsDefinition stands for its key
    try:
        return AssetKey.from_coercible(key).to_user_string()
    except (TypeError, ValueError, DefinitionError) as exc:
        raise DefinitionError(
            f"sensor '{sensor}': asset_selection holds {item!r}, not an asset key ({exc})"
        ) from None


def selection_keys(definitions: Definitions, sensor: str, request: RunRequest) -> list[str] | None:
    """The request's asset selection as key strings, checked against its job (``None``: all)."""
    if request.asset_selection is None:
        return None
    if isinstance(request.asset_selection, str | bytes) or not isinstance(
        request.asset_selection, Sequence
    ):
        raise DefinitionError(
            f"sensor '{sensor}': asset_selection must be a list of asset keys, "
            f"got {request.asset_selection!r:.200}"
        )
    keys = list(dict.fromkeys(_key(sensor, item) for item in request.asset_selection))
    job = definitions.get_job(request.job_name or "")
    try:
        select_steps(job, keys)
    except DefinitionError as exc:
        raise DefinitionError(f"sensor '{sensor}': {exc}") from None
    return keys


def select_steps(job: JobDefinition, keys: Sequence[str] | None) -> tuple[Step, ...]:
    """The steps of ``job`` that materialize ``keys`` (``None``: every step), in plan order."""
    if keys is None:
        return job.steps
    if not keys:
        raise DefinitionError(f"an empty asset_selection for job '{job.name}' selects nothing")
    by_key = {s.asset_key.to_user_string(): s for s in job.steps if s.asset_key is not None}
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        raise DefinitionError(
            f"asset_selection names {unknown}, which job '{job.name}' does not materialize "
            f"(its assets: {sorted(by_key) or 'none'})"
        )
    wanted = {by_key[k].name for k in keys}
    steps = tuple(s for s in job.steps if s.name in wanted)
    for step in steps:
        absent = sorted(src for src in step.inputs.values() if src not in wanted)
        if absent:
            raise DefinitionError(
                f"asset '{step.name}' of job '{job.name}' takes the output of {absent} as "
                "input, but the asset_selection does not include them; select them too"
            )
    return steps
