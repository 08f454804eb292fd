"""lookout: Dagster-style sensors on Celery and Redis.

The names below are the sensor author's API; they keep Dagster's names so
that ``import shared as dg`` runs code written for ``import dagster as dg``.
Everything else in this package is private by name.
"""

from shared._asset_key import AssetKey
from shared._assets import (
    AssetsDefinition,
    AssetSelection,
    UnresolvedAssetJobDefinition,
    asset,
    define_asset_job,
    materialize,
)
from shared._context import SensorEvaluationContext, build_sensor_context
from shared._definitions import Definitions
from shared._errors import (
    CodecError,
    CodeLocationError,
    DefinitionError,
    LookoutError,
    SensorEvaluationError,
    SensorTimeoutError,
    StorageError,
)
from shared._event_sensors import (
    AssetSensorDefinition,
    DagsterRunStatus,
    asset_sensor,
    run_failure_sensor,
    run_status_sensor,
)
from shared._events import (
    DagsterEvent,
    DagsterRun,
    EventLogEntry,
    RunFailureSensorContext,
    RunStatusSensorContext,
    build_run_status_sensor_context,
)
from shared._execute import (
    AssetExecutionContext,
    AssetMaterialization,
    ExecuteInProcessResult,
    OpExecutionContext,
)
from shared._instance import DagsterInstance
from shared._ops import JobDefinition, OpDefinition, job, op
from shared._requests import DefaultSensorStatus, RunRequest, SensorResult, SkipReason
from shared._sensors import SensorDefinition, sensor
from shared._settings import Settings
from shared._validate import validate_run_config

__all__ = [
    # Assets and jobs
    "AssetExecutionContext",
    "AssetKey",
    "AssetMaterialization",
    "AssetSelection",
    "AssetsDefinition",
    "DagsterInstance",
    "ExecuteInProcessResult",
    "JobDefinition",
    "OpDefinition",
    "OpExecutionContext",
    "UnresolvedAssetJobDefinition",
    "asset",
    "define_asset_job",
    "job",
    "materialize",
    "op",
    "validate_run_config",
    # Sensors
    "DefaultSensorStatus",
    "RunRequest",
    "SensorDefinition",
    "SensorEvaluationContext",
    "SensorResult",
    "SkipReason",
    "build_sensor_context",
    "sensor",
    # Event sensors
    "AssetSensorDefinition",
    "DagsterEvent",
    "DagsterRun",
    "DagsterRunStatus",
    "EventLogEntry",
    "RunFailureSensorContext",
    "RunStatusSensorContext",
    "asset_sensor",
    "build_run_status_sensor_context",
    "run_failure_sensor",
    "run_status_sensor",
    # Code locations and settings
    "Definitions",
    "Settings",
    # Errors
    "CodeLocationError",
    "CodecError",
    "DefinitionError",
    "LookoutError",
    "SensorEvaluationError",
    "SensorTimeoutError",
    "StorageError",
]
