"""What a sensor gives back: run requests, skip reasons and sensor results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lookout._author.config import RunConfig, run_config_dict
from lookout._base.errors import DefinitionError

# The tags lookout puts on every run a sensor launches, named as Dagster names
# them so that users' tag-reading code keeps working.
SENSOR_NAME_TAG = "dagster/sensor_name"
RUN_KEY_TAG = "dagster/run_key"
PARTITION_TAG = "dagster/partition"


def _check_tags(tags: Mapping[str, Any] | None, what: str) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise DefinitionError(f"{what} tags must be a mapping of str to str, got {tags!r}")
    bad = [k for k, v in tags.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise DefinitionError(f"{what} tags must map str to str; bad entries: {bad!r}")
    return dict(tags)


@dataclass(frozen=True)
class RunRequest:
    """Ask for one run of a job; ``run_key`` makes it happen at most once per sensor."""

    run_key: str | None = None
    run_config: Any = field(default_factory=dict)  # a dict or a RunConfig; stored as a dict
    tags: Mapping[str, str] = field(default_factory=dict)
    job_name: str | None = None
    asset_selection: Sequence[Any] | None = None
    partition_key: str | None = None
    # A lookout extension, absent in Dagster: may this request take its run key
    # again once the run that key launched FAILED?  None: the sensor's
    # ``rerun_failed_run_keys`` decides (README: run keys that can run again).
    rerun_if_failed: bool | None = None

    def __post_init__(self) -> None:
        if self.rerun_if_failed is not None and not isinstance(self.rerun_if_failed, bool):
            raise DefinitionError(
                f"RunRequest rerun_if_failed must be a bool or None, got {self.rerun_if_failed!r}"
            )
        if self.run_key is not None and not isinstance(self.run_key, str):
            raise DefinitionError(f"RunRequest run_key must be a str or None, got {self.run_key!r}")
        config = {} if self.run_config is None else self.run_config
        if not isinstance(config, Mapping | RunConfig):
            raise DefinitionError(f"RunRequest run_config must be a mapping, got {config!r}")
        object.__setattr__(self, "run_config", run_config_dict(config))
        object.__setattr__(self, "tags", _check_tags(self.tags, "RunRequest"))
        if self.partition_key is not None and not isinstance(self.partition_key, str):
            raise DefinitionError(
                f"RunRequest partition_key must be a str, got {self.partition_key!r}"
            )


@dataclass(frozen=True)
class SkipReason:
    """Say why a sensor asked for no run this tick."""

    skip_message: str | None = None

    def __post_init__(self) -> None:
        if self.skip_message is not None and not isinstance(self.skip_message, str):
            raise DefinitionError(f"SkipReason message must be a str, got {self.skip_message!r}")


@dataclass(frozen=True)
class SensorResult:
    """Everything a tick gives back at once: run requests or a skip reason, and a cursor."""

    run_requests: Sequence[RunRequest] | None = None
    skip_reason: SkipReason | str | None = None
    cursor: Any = None
    dynamic_partitions_requests: Sequence[Any] | None = None
    asset_events: Sequence[Any] | None = None

    def __post_init__(self) -> None:
        requests = list(self.run_requests or [])
        for request in requests:
            if not isinstance(request, RunRequest):
                raise DefinitionError(
                    f"SensorResult run_requests must hold RunRequests, got {request!r}"
                )
        skip = self.skip_reason
        if isinstance(skip, str):
            skip = SkipReason(skip)
        if requests and skip is not None:
            raise DefinitionError("SensorResult takes run_requests or a skip_reason, not both")
        object.__setattr__(self, "run_requests", requests)
        object.__setattr__(self, "skip_reason", skip)
