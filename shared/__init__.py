"""lookout: Dagster-style sensors on Celery and Redis.

The names below are the sensor author's API; they keep Dagster's names so
that ``import lookout as dg`` runs code written for ``import dagster as dg``.
Everything else in this package is private by name.
"""

from lookout._author.asset_events import (
    AssetMaterialization,
    AssetObservation,
    MaterializeResult,
)
from lookout._author.asset_key import AssetKey
from lookout._author.asset_selection import AssetSelection
from lookout._author.asset_spec import AssetSpec
from lookout._author.assets import (
    AssetsDefinition,
    UnresolvedAssetJobDefinition,
    asset,
    define_asset_job,
    materialize,
)
from lookout._author.config import (
    Array,
    BoolSource,
    Config,
    EnvVar,
    Field,
    IntSource,
    Noneable,
    Permissive,
    PermissiveConfig,
    RunConfig,
    Shape,
    StringSource,
)
from lookout._author.context import SensorEvaluationContext, build_sensor_context
from lookout._author.cron import next_fire_times
from lookout._author.definitions import Definitions, definitions
from lookout._author.email_sensor import make_email_on_run_failure_sensor
from lookout._author.event_records import (
    AssetRecordsFilter,
    DagsterEventType,
    EventLogRecord,
    EventRecordsFilter,
    RunRecord,
    RunsFilter,
)
from lookout._author.event_sensors import (
    RunStatusSensorDefinition,
    asset_sensor,
    run_failure_sensor,
    run_status_sensor,
)
from lookout._author.events import (
    DagsterEvent,
    DagsterRun,
    EventLogEntry,
)
from lookout._author.execute import (
    AssetExecutionContext,
    ExecuteInProcessResult,
    OpExecutionContext,
)
from lookout._author.failure_sensors import (
    SensorFailureContext,
    SensorFailureSensorDefinition,
    build_sensor_failure_context,
    sensor_failure_sensor,
)
from lookout._author.instance import DagsterInstance
from lookout._author.metadata import MetadataValue
from lookout._author.multi_asset_context import (
    MultiAssetSensorEvaluationContext,
    build_multi_asset_sensor_context,
)
from lookout._author.multi_asset_sensor import MultiAssetSensorDefinition, multi_asset_sensor
from lookout._author.ops import JobDefinition, OpDefinition, job, op
from lookout._author.partitioned_config import (
    PartitionedConfig,
    daily_partitioned_config,
    dynamic_partitioned_config,
    hourly_partitioned_config,
    monthly_partitioned_config,
    static_partitioned_config,
    weekly_partitioned_config,
)
from lookout._author.partitions import (
    AddDynamicPartitionsRequest,
    DailyPartitionsDefinition,
    DeleteDynamicPartitionsRequest,
    DynamicPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    PartitionKeyRange,
    PartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindow,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
    partition_loading_context,
)
from lookout._author.repository import repository
from lookout._author.requests import RunRequest, SensorResult, SkipReason
from lookout._author.resources import (
    ConfigurableResource,
    InitResourceContext,
    ResourceDefinition,
    ResourceDependency,
    ResourceParam,
    build_init_resource_context,
    build_resources,
    resource,
)
from lookout._author.run_status_context import (
    RunFailureSensorContext,
    RunStatusSensorContext,
    build_run_status_sensor_context,
)
from lookout._author.runs import DagsterRunStatus
from lookout._author.schedule_builders import build_schedule_from_partitioned_job, schedule
from lookout._author.schedules import (
    DefaultScheduleStatus,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    build_schedule_context,
)
from lookout._author.selectors import CodeLocationSelector, JobSelector, RepositorySelector
from lookout._author.sensors import AssetSensorDefinition, SensorDefinition, sensor
from lookout._author.testing import build_asset_context, build_op_context, instance_for_test
from lookout._author.validate import validate_run_config
from lookout._base.errors import (
    CodecError,
    CodeLocationError,
    DefinitionError,
    LookoutError,
    SensorEvaluationError,
    SensorTimeoutError,
    StorageError,
)
from lookout._base.wire import DefaultSensorStatus
from lookout._core.settings import Settings

__all__ = [
    # Assets and jobs
    "AssetExecutionContext",
    "AssetKey",
    "AssetMaterialization",
    "AssetObservation",
    "AssetSelection",
    "AssetSpec",
    "AssetsDefinition",
    "DagsterInstance",
    "ExecuteInProcessResult",
    "JobDefinition",
    "MaterializeResult",
    "MetadataValue",
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
    "SensorFailureContext",
    "SensorFailureSensorDefinition",
    "build_sensor_failure_context",
    "sensor_failure_sensor",
    "RunStatusSensorContext",
    "RunStatusSensorDefinition",
    "asset_sensor",
    "build_run_status_sensor_context",
    "run_failure_sensor",
    "run_status_sensor",
    # Multi-asset sensors and selectors
    "CodeLocationSelector",
    "JobSelector",
    "MultiAssetSensorDefinition",
    "MultiAssetSensorEvaluationContext",
    "RepositorySelector",
    "build_multi_asset_sensor_context",
    "make_email_on_run_failure_sensor",
    "multi_asset_sensor",
    # Instance queries
    "AssetRecordsFilter",
    "DagsterEventType",
    "EventLogRecord",
    "EventRecordsFilter",
    "RunRecord",
    "RunsFilter",
    # Config
    "Array",
    "BoolSource",
    "Config",
    "EnvVar",
    "Field",
    "IntSource",
    "Noneable",
    "Permissive",
    "PermissiveConfig",
    "RunConfig",
    "Shape",
    "StringSource",
    # Resources
    "ConfigurableResource",
    "InitResourceContext",
    "ResourceDefinition",
    "ResourceDependency",
    "ResourceParam",
    "build_init_resource_context",
    "build_resources",
    "resource",
    # Partitions
    "AddDynamicPartitionsRequest",
    "DailyPartitionsDefinition",
    "DeleteDynamicPartitionsRequest",
    "DynamicPartitionsDefinition",
    "HourlyPartitionsDefinition",
    "MonthlyPartitionsDefinition",
    "MultiPartitionKey",
    "MultiPartitionsDefinition",
    "PartitionKeyRange",
    "PartitionedConfig",
    "PartitionsDefinition",
    "StaticPartitionsDefinition",
    "TimeWindow",
    "TimeWindowPartitionsDefinition",
    "WeeklyPartitionsDefinition",
    "partition_loading_context",
    "daily_partitioned_config",
    "dynamic_partitioned_config",
    "hourly_partitioned_config",
    "monthly_partitioned_config",
    "static_partitioned_config",
    "weekly_partitioned_config",
    # Schedules
    "DefaultScheduleStatus",
    "ScheduleDefinition",
    "ScheduleEvaluationContext",
    "build_schedule_context",
    "build_schedule_from_partitioned_job",
    "next_fire_times",
    "schedule",
    # Testing
    "build_asset_context",
    "build_op_context",
    "instance_for_test",
    # Code locations and settings
    "Definitions",
    "definitions",
    "Settings",
    "repository",
    # Errors
    "CodeLocationError",
    "CodecError",
    "DefinitionError",
    "LookoutError",
    "SensorEvaluationError",
    "SensorTimeoutError",
    "StorageError",
]
