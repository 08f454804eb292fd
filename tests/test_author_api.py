"""The author API behaves as Dagster's: plain sensors, jobs, assets, clear misuse errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import lookout as dg
from lookout._author.evaluate import evaluate


@dg.op
def produce() -> int:
    return 20


@dg.op(config_schema={"factor": int})
def scale(context: dg.OpExecutionContext, value: int) -> int:
    return value * int(context.op_config["factor"])


@dg.job
def arithmetic() -> None:
    scale(produce())


def test_job_body_passes_op_outputs_as_inputs() -> None:
    result = arithmetic.execute_in_process(run_config={"ops": {"scale": {"config": {"factor": 3}}}})
    assert result.success
    assert result.output_for_node("scale") == 60


def test_op_missing_config_fails_the_run_with_its_name() -> None:
    result = arithmetic.execute_in_process(raise_on_error=False)
    assert not result.success
    assert "scale" in (result.error or "") and "factor" in (result.error or "")


def test_materialize_runs_assets_in_dependency_order_with_partition() -> None:
    seen: list[str] = []

    @dg.asset
    def upstream(context: dg.AssetExecutionContext) -> int:
        seen.append(f"upstream:{context.partition_key}")
        return 2

    @dg.asset
    def downstream(upstream: int) -> int:
        seen.append("downstream")
        return upstream + 1

    result = dg.materialize([downstream, upstream], partition_key="2024-01-01")
    assert seen == ["upstream:2024-01-01", "downstream"]
    assert result.output_for_node("downstream") == 3
    keys = [m.asset_key for m in result.get_asset_materialization_events()]
    assert keys == [dg.AssetKey("upstream"), dg.AssetKey("downstream")]


def test_sensor_is_callable_as_a_plain_function_with_or_without_context() -> None:
    @dg.sensor(job=arithmetic)
    def no_context() -> Iterator[dg.RunRequest]:
        yield dg.RunRequest(run_key="a")

    @dg.sensor(job=arithmetic)
    def with_context(context: dg.SensorEvaluationContext) -> dg.RunRequest:
        key = str(context.cursor)
        context.update_cursor({"seen": [context.cursor]})
        return dg.RunRequest(run_key=key)

    assert [r.run_key for r in no_context()] == ["a"]
    ctx = dg.build_sensor_context(cursor="7")
    assert with_context(ctx).run_key == "7"
    assert ctx.cursor == {"seen": ["7"]}


def test_defaults_match_dagster() -> None:
    @dg.sensor(job=arithmetic)
    def plain() -> None:
        return None

    assert plain.minimum_interval_seconds == 30
    assert plain.default_status is dg.DefaultSensorStatus.STOPPED
    assert plain.job_names == ("arithmetic",)


def _outcome(sensor: dg.SensorDefinition[Any, Any], cursor: Any = None) -> Any:
    return evaluate(sensor, dg.build_sensor_context(cursor=cursor, sensor_name=sensor.name))


def test_yielding_both_a_skip_reason_and_run_requests_is_an_error_naming_the_sensor() -> None:
    @dg.sensor(job=arithmetic)
    def confused() -> Iterator[dg.RunRequest | dg.SkipReason]:
        yield dg.RunRequest(run_key="x")
        yield dg.SkipReason("nothing")

    with pytest.raises(dg.SensorEvaluationError, match=r"'confused'.*SkipReason.*RunRequest"):
        _outcome(confused)


def test_run_request_for_a_job_the_sensor_does_not_target_is_an_error() -> None:
    @dg.sensor(job=arithmetic)
    def stray() -> dg.RunRequest:
        return dg.RunRequest(job_name="other_job")

    with pytest.raises(dg.SensorEvaluationError, match=r"'stray'.*'other_job'.*does not target"):
        _outcome(stray)


def test_unencodable_cursor_is_an_error_naming_the_sensor() -> None:
    @dg.sensor(job=arithmetic)
    def bad_cursor(context: dg.SensorEvaluationContext) -> None:
        context.update_cursor(object())

    with pytest.raises(dg.DefinitionError, match=r"'bad_cursor'.*cursor.*cannot be stored"):
        bad_cursor(dg.build_sensor_context(sensor_name="bad_cursor"))

    @dg.sensor(job=arithmetic)
    def bad_result_cursor() -> dg.SensorResult:
        return dg.SensorResult(skip_reason="x", cursor={1, 2})

    with pytest.raises(dg.DefinitionError, match=r"'bad_result_cursor'.*cannot be stored"):
        _outcome(bad_result_cursor)


def test_duplicate_sensor_or_job_names_in_one_definitions_are_errors() -> None:
    def make(name: str) -> dg.SensorDefinition[Any, Any]:
        @dg.sensor(job=arithmetic, name=name)
        def s() -> None:
            return None

        return s

    with pytest.raises(dg.DefinitionError, match="two sensors are named 'same'"):
        dg.Definitions(sensors=[make("same"), make("same")])

    @dg.job(name="arithmetic")
    def clash() -> None:
        produce()

    with pytest.raises(dg.DefinitionError, match="two jobs are named 'arithmetic'"):
        dg.Definitions(jobs=[arithmetic, clash])


@pytest.mark.parametrize("interval", [0, -5, "10", True])
def test_non_positive_or_non_numeric_interval_is_an_error(interval: Any) -> None:
    with pytest.raises(dg.DefinitionError, match=r"'ticker'.*minimum_interval_seconds"):

        @dg.sensor(job=arithmetic, minimum_interval_seconds=interval)
        def ticker() -> None:
            return None


def test_wrong_return_type_is_an_error_naming_the_sensor() -> None:
    @dg.sensor(job=arithmetic)
    def numeric() -> int:
        return 42

    with pytest.raises(dg.SensorEvaluationError, match="'numeric' returned a int"):
        _outcome(numeric)


def test_sensor_result_cannot_hold_requests_and_a_skip_reason() -> None:
    with pytest.raises(dg.DefinitionError, match="not both"):
        dg.SensorResult(run_requests=[dg.RunRequest()], skip_reason="no")


def test_request_without_job_on_a_multi_job_sensor_must_name_one() -> None:
    @dg.job
    def second() -> None:
        produce()

    @dg.sensor(jobs=[arithmetic, second])
    def both() -> dg.RunRequest:
        return dg.RunRequest()

    with pytest.raises(dg.SensorEvaluationError, match="several jobs"):
        _outcome(both)

    @dg.sensor(jobs=[arithmetic, second])
    def named() -> dg.RunRequest:
        return dg.RunRequest(job_name="second")

    assert _outcome(named).run_requests[0].job_name == "second"


def test_definitions_adds_jobs_that_sensors_target() -> None:
    @dg.asset
    def table() -> int:
        return 1

    job = dg.define_asset_job("table_job", selection=[table])

    @dg.sensor(job=job)
    def s() -> None:
        return None

    defs = dg.Definitions(assets=[table], sensors=[s])
    assert defs.get_job("table_job").steps[0].name == "table"
