"""``SensorDefinition.evaluate_tick`` and ``SensorDefinition.job_name``, as Dagster 1.13 gives them.

Users test sensors with ``my_sensor.evaluate_tick(build_sensor_context(...))``
and read ``.run_requests``, ``.skip_message`` and ``.cursor``; Dagster's docs
read ``my_sensor.job_name``.  The values asserted are the ones Dagster 1.13
gives for the same calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import lookout as dg
from lookout._base.errors import DefinitionError, SensorEvaluationError


@dg.op
def load_invoices() -> int:
    return 12


@dg.job
def invoices_job() -> None:
    load_invoices()


@dg.asset
def ledger() -> int:
    return 5


ledger_job = dg.define_asset_job("ledger_job", selection=[ledger])


@dg.sensor(job=invoices_job)
def inbox_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
    context.update_cursor("inbox-9")
    yield dg.RunRequest(run_key="mail-1", tags={"source": "inbox"})
    yield dg.RunRequest(run_key="mail-2", run_config={"ops": {}}, job_name="invoices_job")


@dg.sensor(job=invoices_job)
def quiet_sensor() -> None:
    return None


@dg.sensor(job=invoices_job)
def closed_sensor() -> dg.SkipReason:
    return dg.SkipReason("the office is closed")


@dg.sensor(job=invoices_job)
def result_sensor() -> dg.SensorResult:
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key="batch-3")],
        cursor="batch-3",
        dynamic_partitions_requests=[
            dg.DynamicPartitionsDefinition(name="regions").build_add_request(["north"])
        ],
    )


@dg.sensor(job=invoices_job)
def skip_result_sensor() -> dg.SensorResult:
    return dg.SensorResult(skip_reason="no batch today", cursor="day-2")


@dg.sensor(job=invoices_job)
def confused_sensor() -> Iterator[Any]:
    yield dg.RunRequest(run_key="one")
    yield dg.SkipReason("and none")


@dg.sensor()
def untargeted_sensor() -> None:
    return None


@dg.sensor(jobs=[invoices_job, ledger_job])
def two_jobs_sensor() -> None:
    return None


@dg.asset_sensor(asset_key=dg.AssetKey("ledger"), job=invoices_job)
def ledger_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry) -> Any:
    return dg.RunRequest(run_key=str(context.cursor), tags={"seen": "ledger"})


def test_run_requests_come_back_tagged_with_the_sensor_name_and_their_own_job() -> None:
    data = inbox_sensor.evaluate_tick(dg.build_sensor_context(cursor="inbox-8"))
    assert [r.run_key for r in data.run_requests] == ["mail-1", "mail-2"]
    assert [dict(r.tags) for r in data.run_requests] == [
        {"source": "inbox", "dagster/sensor_name": "inbox_sensor"},
        {"dagster/sensor_name": "inbox_sensor"},
    ]
    # Dagster leaves a request's job as the function named it.
    assert [r.job_name for r in data.run_requests] == [None, "invoices_job"]
    assert data.skip_message is None
    assert data.cursor == "inbox-9"
    assert data.dynamic_partitions_requests == []
    assert data.asset_events == []
    assert data.dagster_run_reactions == []
    assert data.log_key is None


def test_a_sensor_that_gives_nothing_skips_with_dagsters_message() -> None:
    data = quiet_sensor.evaluate_tick(dg.build_sensor_context(cursor="c1"))
    assert data.run_requests == []
    assert data.skip_message == "Sensor function returned an empty result"
    assert data.cursor == "c1"


def test_a_skip_reason_gives_its_message() -> None:
    data = closed_sensor.evaluate_tick(dg.build_sensor_context())
    assert data.run_requests == []
    assert data.skip_message == "the office is closed"
    assert data.cursor is None


def test_a_sensor_result_gives_its_cursor_and_partition_requests_as_given() -> None:
    data = result_sensor.evaluate_tick(dg.build_sensor_context())
    assert [r.run_key for r in data.run_requests] == ["batch-3"]
    assert data.cursor == "batch-3"
    (request,) = data.dynamic_partitions_requests
    assert request.partitions_def_name == "regions"
    assert list(request.partition_keys) == ["north"]

    skipped = skip_result_sensor.evaluate_tick(dg.build_sensor_context())
    assert skipped.skip_message == "no batch today"
    assert skipped.cursor == "day-2"
    assert skipped.run_requests == []


def test_a_run_request_together_with_a_skip_reason_is_refused() -> None:
    with pytest.raises(SensorEvaluationError, match="both a SkipReason and 1 RunRequest"):
        confused_sensor.evaluate_tick(dg.build_sensor_context())


def test_an_asset_sensor_tick_reads_the_instance_and_moves_its_cursor() -> None:
    instance = dg.DagsterInstance.ephemeral()
    before = ledger_sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert before.run_requests == []
    assert before.skip_message == (
        "No new materialization events found for asset key AssetKey(['ledger'])"
    )

    dg.materialize([ledger], instance=instance)
    (record,) = instance.fetch_materializations(dg.AssetKey("ledger"), limit=1).records
    after = ledger_sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    (request,) = after.run_requests
    # The function ran with the cursor it was given (none), then the cursor moved.
    assert request.run_key == "None"
    assert dict(request.tags) == {"seen": "ledger", "dagster/sensor_name": "ledger_sensor"}
    assert after.cursor == str(record.storage_id)

    again = ledger_sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, cursor=after.cursor)
    )
    assert again.run_requests == []
    assert again.cursor == after.cursor


def test_job_name_is_the_one_target_of_the_sensor() -> None:
    assert inbox_sensor.job_name == "invoices_job"
    assert ledger_sensor.job_name == "invoices_job"

    @dg.sensor(target=[ledger])
    def ledger_target_sensor() -> None:
        return None

    assert ledger_target_sensor.job_name == "__anonymous_asset_job_ledger_target_sensor"

    @dg.sensor(job_name="ledger_job")
    def named_sensor() -> None:
        return None

    assert named_sensor.job_name == "ledger_job"


def test_job_name_is_an_error_without_a_job_or_with_several() -> None:
    with pytest.raises(DefinitionError, match="no job was provided"):
        _ = untargeted_sensor.job_name
    with pytest.raises(DefinitionError, match="several jobs"):
        _ = two_jobs_sensor.job_name
