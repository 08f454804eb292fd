"""Resources, in the shapes of Dagster's resources guide and its testing examples.

``ConfigurableResource`` given to ``Definitions`` (or ``materialize``) and
injected by parameter into assets, ops and sensors; set up and torn down once
per run; the ``resource`` decorator, ``ResourceParam``, ``EnvVar``,
``build_resources`` and ``build_sensor_context(resources=...)``.  Expected
values are what Dagster 1.13 gives for the same code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import lookout as dg
from lookout._author.evaluate import evaluate
from lookout._base.errors import DefinitionError, SensorEvaluationError

# What the resources below did, in order; reset by the fixture.
EVENTS: list[str] = []


@pytest.fixture(autouse=True)
def _clear_events() -> Iterator[None]:
    EVENTS.clear()
    yield
    EVENTS.clear()


class LedgerResource(dg.ConfigurableResource):
    book: str
    page: int = 1

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        EVENTS.append(f"open {self.book}")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        EVENTS.append(f"close {self.book}")

    def entries(self) -> list[str]:
        return [f"{self.book}:{self.page}", f"{self.book}:{self.page + 1}"]


class BrokenResource(dg.ConfigurableResource):
    host: str

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        raise ConnectionError(f"cannot reach {self.host}")


@dg.asset
def ledger_lines(ledger: LedgerResource) -> list[str]:
    return ledger.entries()


@dg.asset
def ledger_count(ledger_lines: list[str], ledger: LedgerResource) -> int:
    return len(ledger_lines) + ledger.page


@dg.asset
def greeting_line(salutation: dg.ResourceParam[str]) -> str:
    return f"{salutation}, crew"


@dg.op
def read_ledger(context: dg.OpExecutionContext, ledger: LedgerResource) -> str:
    return ",".join(ledger.entries())


@dg.job(resource_defs={"ledger": LedgerResource(book="ops")})
def ledger_job() -> None:
    read_ledger()


@dg.sensor(job=ledger_job)
def ledger_sensor(context: dg.SensorEvaluationContext, ledger: LedgerResource) -> Any:
    for entry in ledger.entries():
        yield dg.RunRequest(run_key=entry, tags={"entry": entry})


@dg.sensor(job=ledger_job)
def broken_sensor(context: dg.SensorEvaluationContext, ledger: BrokenResource) -> Any:
    return dg.SkipReason("never reached")


@dg.resource(config_schema={"prefix": str})
def stamp_resource(context: dg.InitResourceContext) -> Iterator[str]:
    EVENTS.append("stamp up")
    yield f"{context.resource_config['prefix']}-stamp"
    EVENTS.append("stamp down")


@dg.op(required_resource_keys={"stamp"})
def use_stamp(context: dg.OpExecutionContext) -> str:
    return str(context.resources.stamp)


@dg.job(resource_defs={"stamp": stamp_resource})
def stamp_job() -> None:
    use_stamp()


class TableResource(dg.ConfigurableResource):
    table: str

    def read(self) -> str:
        return f"rows of {self.table}"


@dg.asset
def table_rows(db: TableResource) -> str:
    return db.read()


table_job = dg.define_asset_job("table_job", [table_rows])


@dg.sensor(job=table_job)
def table_sensor() -> Iterator[dg.RunRequest]:
    for table in ["gulls", "terns"]:
        yield dg.RunRequest(
            run_key=table, run_config=dg.RunConfig(resources={"db": TableResource(table=table)})
        )


class HarbourResource(dg.ConfigurableResource):
    ledger: LedgerResource
    name: str

    def manifest(self) -> str:
        return f"{self.name}: {', '.join(self.ledger.entries())}"


@dg.asset
def harbour_manifest(harbour: HarbourResource) -> str:
    return harbour.manifest()


def test_asset_gets_its_resource_by_parameter_and_it_is_set_up_once_per_run() -> None:
    result = dg.materialize(
        [ledger_lines, ledger_count], resources={"ledger": LedgerResource(book="cargo")}
    )
    assert result.output_for_node("ledger_lines") == ["cargo:1", "cargo:2"]
    assert result.output_for_node("ledger_count") == 3
    assert EVENTS == ["open cargo", "close cargo"]


def test_run_config_overrides_a_resource_field() -> None:
    result = dg.materialize(
        [ledger_lines],
        resources={"ledger": LedgerResource(book="cargo")},
        run_config=dg.RunConfig(resources={"ledger": LedgerResource(book="cargo", page=5)}),
    )
    assert result.output_for_node("ledger_lines") == ["cargo:5", "cargo:6"]


def test_definitions_resources_reach_the_jobs_they_define() -> None:
    defs = dg.Definitions(
        assets=[ledger_lines],
        jobs=[dg.define_asset_job("lines_job", [ledger_lines])],
        resources={"ledger": LedgerResource(book="hold")},
    )
    result = defs.get_job("lines_job").execute_in_process()
    assert result.output_for_node("ledger_lines") == ["hold:1", "hold:2"]
    assert EVENTS == ["open hold", "close hold"]


def test_op_job_with_resource_defs_injects_by_annotation() -> None:
    assert ledger_job.execute_in_process().output_for_node("read_ledger") == "ops:1,ops:2"


def test_resource_param_passes_a_plain_value() -> None:
    result = dg.materialize([greeting_line], resources={"salutation": "Ahoy"})
    assert result.output_for_node("greeting_line") == "Ahoy, crew"


def test_function_resource_reads_its_config_and_tears_down_after_the_run() -> None:
    result = stamp_job.execute_in_process(
        run_config={"resources": {"stamp": {"config": {"prefix": "bow"}}}}
    )
    assert result.output_for_node("use_stamp") == "bow-stamp"
    assert EVENTS == ["stamp up", "stamp down"]


def test_sensor_called_with_a_context_gets_its_resource_by_name() -> None:
    # Called as Dagster's tests call it: the resource comes from the context, which
    # the sensor's typed signature cannot say, hence the untyped handle.
    sensor_fn: Any = ledger_sensor
    with dg.build_sensor_context(resources={"ledger": LedgerResource(book="deck")}) as context:
        requests = list(sensor_fn(context))
    assert [(r.run_key, r.tags) for r in requests] == [
        ("deck:1", {"entry": "deck:1"}),
        ("deck:2", {"entry": "deck:2"}),
    ]
    assert EVENTS == ["open deck", "close deck"]


def test_sensor_whose_resource_fails_to_build_names_sensor_resource_and_reason() -> None:
    context = dg.build_sensor_context(resources={"ledger": BrokenResource(host="fog")})
    with pytest.raises(SensorEvaluationError) as raised:
        evaluate(broken_sensor, context)
    message = str(raised.value)
    assert "sensor 'broken_sensor'" in message
    assert "resource 'ledger' failed to initialize" in message
    assert "cannot reach fog" in message


def test_definitions_refuse_a_sensor_whose_resource_is_not_provided() -> None:
    with pytest.raises(
        DefinitionError, match=r"sensor 'ledger_sensor' needs resources \['ledger'\]"
    ):
        dg.Definitions(sensors=[ledger_sensor])


def test_env_var_resource_field_is_read_at_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_BOOK", "galley")
    with dg.build_resources({"ledger": LedgerResource(book=dg.EnvVar("LEDGER_BOOK"))}) as res:
        assert res.ledger.entries() == ["galley:1", "galley:2"]
    assert EVENTS == ["open galley", "close galley"]


def test_env_var_that_is_not_set_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGER_ABSENT", raising=False)
    with (
        pytest.raises(DefinitionError, match="environment variable 'LEDGER_ABSENT'"),
        dg.build_resources({"ledger": LedgerResource(book=dg.EnvVar("LEDGER_ABSENT"))}),
    ):
        pass


def test_build_resources_gives_function_resources_their_config() -> None:
    with dg.build_resources(
        {"stamp": stamp_resource}, resource_config={"stamp": {"config": {"prefix": "aft"}}}
    ) as res:
        assert res.stamp == "aft-stamp"
    assert EVENTS == ["stamp up", "stamp down"]


def test_asset_called_directly_takes_resources_from_a_built_context() -> None:
    asset_fn: Any = ledger_lines  # the resource comes from the context, as in Dagster's tests
    with dg.build_asset_context(resources={"ledger": LedgerResource(book="mast")}) as context:
        assert asset_fn(context) == ["mast:1", "mast:2"]
    assert ledger_lines(ledger=LedgerResource(book="sail")) == ["sail:1", "sail:2"]
    assert EVENTS == ["open mast", "close mast", "open sail", "close sail"]


def test_resource_configured_at_launch_takes_its_fields_from_each_run_config() -> None:
    defs = dg.Definitions(
        assets=[table_rows],
        jobs=[table_job],
        sensors=[table_sensor],
        resources={"db": TableResource.configure_at_launch()},
    )
    requests = list(table_sensor())
    assert [(r.run_key, r.run_config["resources"]) for r in requests] == [
        ("gulls", {"db": {"config": {"table": "gulls"}}}),
        ("terns", {"db": {"config": {"table": "terns"}}}),
    ]
    job = defs.get_job("table_job")
    assert dg.validate_run_config(job, requests[0].run_config)
    result = job.execute_in_process(run_config=requests[1].run_config)
    assert result.output_for_node("table_rows") == "rows of terns"
    with pytest.raises(DefinitionError, match=r"resources\.db\.config\.table"):
        dg.validate_run_config(job, {"resources": {"db": {"config": {"table": 7}}}})


def test_a_resource_in_another_resource_s_field_is_set_up_first_and_torn_down_last() -> None:
    harbour = HarbourResource(ledger=LedgerResource(book="quay"), name="Leith")
    result = dg.materialize([harbour_manifest], resources={"harbour": harbour})
    assert result.output_for_node("harbour_manifest") == "Leith: quay:1, quay:2"
    assert EVENTS == ["open quay", "close quay"]
