"""Wire types: what lookout stores in Redis and sends over queues, as frozen dataclasses.

Each maps itself to a plain msgpack map with ``to_wire``/``from_wire``; the
codec in ``lookout._base.codec`` does the bytes.  Fields absent from a payload take
their defaults, so records written by an older version still read.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Self

from lookout._base.fast_init import fast_init

# The Celery task names: the scheduler publishes by name, workers register them.
TICK_TASK = "lookout.tick_batch"
RUN_TASK = "lookout.run"


class DefaultSensorStatus(enum.Enum):
    """The status a sensor has until an operator starts or stops it (Dagster's name; stored)."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


class TickStatus(enum.Enum):
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    SKIPPED = "SKIPPED"
    FAILURE = "FAILURE"


class _Wire:
    """Plain dataclass <-> dict mapping shared by the wire types below."""

    def to_wire(self) -> dict[str, Any]:
        # Shallow: ``asdict`` deep-copies every nested list and dict, which was
        # the largest cost of encoding a tick record on the tick path.  Nested
        # values are encoded as they are (``lookout._base.codec.encode`` turns a
        # dataclass nested in them into a map, as ``asdict`` did).
        wire: dict[str, Any] = {}
        for name in self.__dataclass_fields__:  # type: ignore[attr-defined]
            value = getattr(self, name)
            wire[name] = value.value if isinstance(value, enum.Enum) else value
        return wire

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class RequestRef(_Wire):
    """A run request as its tick record remembers it."""

    request_id: str
    run_key: str | None
    job_name: str


@fast_init
@dataclass(frozen=True)
class TickRecord(_Wire):
    """One evaluation of one sensor, as the history and the operator see it."""

    tick_id: str
    sensor: str
    status: str
    started_at: float
    ended_at: float | None = None
    due_at: float | None = None
    skip_reason: str | None = None
    error: str | None = None
    traceback: str | None = None
    # Every request the evaluation gave, in order; ``accepted`` says which the
    # commit launched (the others had a run key already used).
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: str = ""
    cursor_before: bytes | None = None
    cursor_after: bytes | None = None
    worker: str | None = None
    # A cursor too large to keep in the record: its digest and size instead.
    cursor_before_digest: str | None = None
    cursor_after_digest: str | None = None
    # How many run requests the tick asked for, when ``requests`` lists only the first.
    requests_total: int | None = None
    # The evaluation's context.log lines, bounded (lookout._process.log_capture):
    # the last line says how many were left out when there were too many.
    logs: list[str] = field(default_factory=list)
    # Consecutive SKIPPED ticks of one reason are kept as one record (as
    # Dagster's UI groups them): how many it stands for, and the first one's
    # start and id.  The other fields are the latest tick's.
    count: int = 1
    first_started_at: float | None = None
    first_tick_id: str | None = None

    @property
    def tick_status(self) -> TickStatus:
        return TickStatus(self.status)

    @property
    def range_started_at(self) -> float:
        """When the first tick this record stands for started."""
        return self.started_at if self.first_started_at is None else self.first_started_at

    @property
    def series_id(self) -> str:
        """The id of the first tick this record stands for: stays while it grows."""
        return self.first_tick_id or self.tick_id

    @property
    def duration(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at

    @property
    def run_request_ids(self) -> list[str]:
        return [
            r["request_id"]
            for r, ok in zip(self.requests, self.accepted, strict=False)
            if ok == "1"
        ]

    @property
    def dropped_run_keys(self) -> list[str]:
        return [
            r["run_key"] for r, ok in zip(self.requests, self.accepted, strict=False) if ok == "0"
        ]


# Run ids are derived from launch request ids, so creating a run is
# idempotent, and a tick's commit knows the run each request will create.
RUN_NAMESPACE = uuid.UUID("6c6f6f6b-6f75-7452-756e-4e616d657370")


def launch_run_id(request_id: str) -> str:
    """The run id of a launch request: the same request always gives the same run.

    The same derivation as ``lookout.workers.runs.run_id_for`` (a test holds
    them equal); the commit of a run-key lifecycle names the run it expects.
    """
    return str(uuid.uuid5(RUN_NAMESPACE, request_id))


@fast_init
@dataclass(frozen=True)
class LaunchRequest(_Wire):
    """A committed RunRequest on the launch stream; ``request_id`` makes launching idempotent."""

    request_id: str
    sensor: str
    tick_id: str
    job_name: str
    run_key: str | None
    run_config: dict[str, Any]
    tags: dict[str, str]
    partition_key: str | None
    created_at: float
    # The assets of the job this run materializes, as ``a/b`` keys (None: all).
    asset_selection: list[str] | None = None


class EventKind(enum.Enum):
    RUN_STATUS = "RUN_STATUS"
    ASSET_MATERIALIZATION = "ASSET_MATERIALIZATION"
    ASSET_OBSERVATION = "ASSET_OBSERVATION"
    # A sensor's (or schedule's) tick that FAILED (a lookout extension, so
    # that a sensor can react to another's failure: ``sensor_failure_sensor``);
    # ``sensor`` names it, ``tick_id`` the tick, ``message`` the error.
    SENSOR_TICK_FAILURE = "SENSOR_TICK_FAILURE"


@dataclass(frozen=True)
class RunEvent(_Wire):
    """A run changed status, a run materialized an asset, or a sensor's tick failed:
    one entry of the event stream.
    """

    kind: str
    run_id: str
    job_name: str
    timestamp: float
    status: str | None = None  # RUN_STATUS events
    asset_key: str | None = None  # ASSET_MATERIALIZATION events, as ``a/b``
    partition: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    message: str | None = None  # the error of a failed run
    sensor: str | None = None  # the sensor that launched the run, if any
    run_key: str | None = None
    # An asset event's metadata, as ``{key: [type, value]}`` (lookout._author.metadata).
    metadata: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    tick_id: str | None = None  # SENSOR_TICK_FAILURE events: the tick that failed


def metadata_text(metadata: Mapping[str, Any]) -> str:
    """An asset event's metadata as one line, `` key=value`` each (values cut at 40)."""
    return "".join(f" {key}={pair[1]!r:.40}" for key, pair in metadata.items())


@fast_init
@dataclass(frozen=True)
class TickMessage(_Wire):
    """One due tick the scheduler hands to the workers; a message carries a batch of them."""

    sensor: str
    tick_id: str
    due_at: float


@dataclass(frozen=True)
class RunRecord(_Wire):
    """One run: what it was asked to do and where it stands.

    ``status`` is a ``DagsterRunStatus`` value.  The request part is stored
    once, at creation; status, times, error and worker change in place.
    """

    run_id: str
    job_name: str
    status: str
    created_at: float
    request_id: str | None = None
    sensor: str | None = None
    tick_id: str | None = None
    run_key: str | None = None
    partition_key: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_config: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None
    worker: str | None = None
    asset_selection: list[str] | None = None  # as LaunchRequest.asset_selection
    # Set when the run FAILED: whether it will be retried, and (once created) its retry.
    will_retry: bool | None = None
    retry_run_id: str | None = None
    # Set when a run that will be retried FAILED in a step: the steps that succeeded.
    succeeded_steps: list[str] | None = None
    # Its ops' context.log lines and its events, bounded, kept when it ends.
    logs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DeadLetter(_Wire):
    """A message no consumer could read, kept with the reason for an operator to look at."""

    source: str  # where it came from: "queue:<name>" or "stream:launch"
    reason: str
    payload: bytes
    at: float
    ref: str | None = None  # the message's id there (task id, stream entry id)
