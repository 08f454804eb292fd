"""The push API's three calls, checked, then carried out: launch, report an asset event, trigger.

Bodies are pydantic models (their JSON schemas are the OpenAPI description's,
``lookout._tools.monitor.openapi``).  Each call checks everything before it
changes anything, so a refused call leaves Redis as it was: an unknown job,
asset or sensor, a run config that does not fit its job, a payload too large.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from lookout._author.asset_events import AssetMaterialization, AssetObservation
from lookout._author.definitions import Definitions
from lookout._author.instance_queries import RUNLESS_JOB
from lookout._author.launch_checks import checked_requests
from lookout._author.metadata import metadata_to_wire
from lookout._author.requests import PARTITION_TAG, RUN_KEY_TAG, RunRequest
from lookout._base.codec import encode
from lookout._base.errors import DefinitionError, LookoutError
from lookout._base.wire import EventKind, LaunchRequest, RunEvent
from lookout._core.payload import PayloadError
from lookout._core.storage import Repositories, push_sensor
from lookout.workers.runs import run_id_for

# The tag every pushed run carries: which push source launched it.
PUSH_SOURCE_TAG = "lookout/push_source"
SOURCE_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class PushError(LookoutError):
    """A push call refused, with the HTTP status that says why; nothing was changed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class LaunchBody(BaseModel):
    """``POST /api/v1/runs``: launch a run of a job, once per run key."""

    model_config = ConfigDict(extra="forbid", title="LaunchRun")

    job_name: str = Field(min_length=1, max_length=256, description="A job of the code location.")
    run_config: dict[str, JsonValue] = Field(
        default_factory=dict, description="The run config, as a sensor's RunRequest takes it."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Tags of the run.")
    run_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="Launch at most one run per key and source, ever (like a sensor's run key).",
    )
    partition_key: str | None = Field(default=None, min_length=1, max_length=512)
    source: str = Field(
        default="api",
        pattern=SOURCE_PATTERN,
        description="The push source: its run keys are its own (pseudo-sensor push:{source}).",
    )


class AssetEventBody(BaseModel):
    """``POST /api/v1/asset-events``: an external asset was materialized or observed."""

    model_config = ConfigDict(extra="forbid", title="AssetEvent")

    asset_key: str | list[str] = Field(
        description='The asset\'s key: "a/b" or its parts ["a", "b"]; the location must know it.'
    )
    kind: Literal["materialization", "observation"] = "materialization"
    partition: str | None = Field(default=None, min_length=1, max_length=512)
    metadata: dict[str, JsonValue] = Field(
        default_factory=dict, description="Plain values, normalized as Dagster does."
    )
    description: str | None = Field(default=None, max_length=4096)
    tags: dict[str, str] = Field(default_factory=dict)


class TriggerBody(BaseModel):
    """``POST /api/v1/sensors/{name}/trigger``: a tick now, with an optional payload."""

    model_config = ConfigDict(extra="forbid", title="TriggerSensor")

    payload: JsonValue = Field(
        default=None,
        description="Read by the tick as context.trigger_payload (null: no payload).",
    )


@dataclass(frozen=True)
class PushCalls:
    """The three calls over one code location and its repositories."""

    definitions: Definitions
    repos: Repositories

    def launch(self, body: LaunchBody) -> dict[str, Any]:
        """Put the run on the launch stream unless its run key was pushed before."""
        request = self._checked_request(body)
        request_id = f"push-{uuid.uuid4().hex}"
        sensor = push_sensor(body.source)
        tags = {**request.tags, PUSH_SOURCE_TAG: body.source}
        if request.run_key is not None:
            tags[RUN_KEY_TAG] = request.run_key
        if request.partition_key is not None:
            tags[PARTITION_TAG] = request.partition_key
        launch = LaunchRequest(
            request_id=request_id,
            sensor=sensor,
            tick_id=request_id,  # no tick: the push itself stands for one
            job_name=body.job_name,
            run_key=request.run_key,
            run_config=dict(request.run_config),
            tags=tags,
            partition_key=request.partition_key,
            created_at=time.time(),
        )
        outcome = self.repos.push.launch(body.source, body.run_key, request_id, encode(launch))
        return {
            "launched": outcome.launched,
            "run_id": run_id_for(outcome.request_id),
            "request_id": outcome.request_id,
            "run_key": body.run_key,
            "job_name": body.job_name,
        }

    def _checked_request(self, body: LaunchBody) -> RunRequest:
        if not self.definitions.has_job(body.job_name):
            known = ", ".join(sorted(j.name for j in self.definitions.jobs)) or "none"
            raise PushError(422, f"no job '{body.job_name}' in this code location (known: {known})")
        request = RunRequest(
            run_key=body.run_key,
            run_config=dict(body.run_config),
            tags=dict(body.tags),
            job_name=body.job_name,
            partition_key=body.partition_key,
        )
        try:
            (checked,) = checked_requests(
                push_sensor(body.source), [request], self.definitions.get_job, None
            )
        except LookoutError as exc:
            raise PushError(422, str(exc)) from exc
        return checked

    def report(self, body: AssetEventBody) -> dict[str, Any]:
        """Append the asset event to the event stream (asset sensors see it once each)."""
        kind = AssetObservation if body.kind == "observation" else AssetMaterialization
        try:
            event = kind(
                asset_key=body.asset_key,
                description=body.description,
                metadata=body.metadata,
                partition=body.partition,
                tags=body.tags,
            )
            self.definitions.get_assets_def(event.asset_key)
        except DefinitionError as exc:
            raise PushError(422, str(exc)) from exc
        observed = kind is AssetObservation
        entry = RunEvent(
            kind=(
                EventKind.ASSET_OBSERVATION if observed else EventKind.ASSET_MATERIALIZATION
            ).value,
            run_id="",
            job_name=RUNLESS_JOB,
            timestamp=time.time(),
            asset_key=event.asset_key.to_user_string(),
            partition=event.partition,
            tags=dict(event.tags),
            metadata=metadata_to_wire(event.metadata),
            description=event.description,
        )
        event_id = self.repos.events.append(entry)
        return {"event_id": event_id, "asset_key": entry.asset_key, "kind": entry.kind}

    def trigger(self, name: str, body: TriggerBody) -> dict[str, Any]:
        """Ask for a tick of sensor ``name`` now, carrying the payload to it."""
        # Imported here: the scheduler package brings Celery, and every CLI
        # command imports the monitor; only a trigger needs it.
        from lookout.scheduler import trigger_sensor

        try:
            self.definitions.get_sensor(name)
        except DefinitionError as exc:
            raise PushError(404, str(exc)) from exc
        try:
            result = trigger_sensor(self.repos.schedule, name, payload=body.payload)
        except PayloadError as exc:
            raise PushError(413, str(exc)) from exc
        except LookoutError as exc:  # a sensor no scheduler has recorded yet
            raise PushError(409, str(exc)) from exc
        return {
            "sensor": name,
            "outcome": result.outcome.value,
            "due_at": result.due_at,
            "tick_id": result.tick_id,
        }
