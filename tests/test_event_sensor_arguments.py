"""The arguments Dagster 1.13's sensor decorators take besides targets, and what they keep.

``run_status_sensor``/``run_failure_sensor`` give a ``RunStatusSensorDefinition``
and take ``metadata=``; ``asset_sensor`` takes ``metadata=`` and
``required_resource_keys=``; ``sensor`` takes ``owners=``;
``build_run_status_sensor_context`` takes ``repository_def=``.
"""

from __future__ import annotations

from typing import Any

import lookout as dg


@dg.op
def bake() -> int:
    return 12


@dg.job
def bakery_job() -> None:
    bake()


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, metadata={"shift": "early"})
def oven_done_sensor(context: dg.RunStatusSensorContext) -> Any:
    return dg.SkipReason(f"{context.dagster_run.job_name} baked")


@dg.run_failure_sensor(metadata={"shift": "late"})
def oven_failed_sensor(context: dg.RunFailureSensorContext) -> None:
    return None


@dg.asset_sensor(
    asset_key=dg.AssetKey("loaves"),
    job=bakery_job,
    metadata={"shelf": "top"},
    required_resource_keys={"oven"},
)
def loaves_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry) -> Any:
    return dg.RunRequest()


@dg.sensor(job=bakery_job, owners=["team:bakers"])
def flour_sensor() -> None:
    return None


@dg.repository
def bakery_repo() -> list[Any]:
    return [bakery_job, oven_done_sensor]


def test_run_status_sensors_are_run_status_sensor_definitions_with_their_metadata() -> None:
    assert isinstance(oven_done_sensor, dg.RunStatusSensorDefinition)
    assert isinstance(oven_done_sensor, dg.SensorDefinition)
    assert isinstance(oven_failed_sensor, dg.RunStatusSensorDefinition)
    assert not isinstance(flour_sensor, dg.RunStatusSensorDefinition)
    assert oven_done_sensor.metadata == {"shift": "early"}
    assert oven_failed_sensor.metadata == {"shift": "late"}


def test_asset_and_plain_sensors_keep_metadata_resource_keys_and_owners() -> None:
    assert loaves_sensor.metadata == {"shelf": "top"}
    assert loaves_sensor.required_resource_keys == {"oven"}
    assert flour_sensor.owners == ["team:bakers"]
    assert oven_done_sensor.owners is None


def test_a_run_status_context_carries_the_repository_it_was_built_with() -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = bakery_job.execute_in_process(instance=instance)
    context = dg.build_run_status_sensor_context(
        sensor_name="oven_done_sensor",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_success_event(),
        repository_def=bakery_repo,
    )
    assert context.repository_def is bakery_repo
    assert context.for_run_failure().repository_def is bakery_repo
    skip = oven_done_sensor(context)
    assert isinstance(skip, dg.SkipReason)
    assert skip.skip_message == "bakery_job baked"
