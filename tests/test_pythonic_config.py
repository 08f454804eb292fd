"""Pythonic config, in the shapes of Dagster's configuration guide.

``Config`` models as op and asset parameters, ``RunConfig`` wherever a run
config goes, the dict ``config_schema`` with ``Field``, ``Noneable`` and
``Permissive``, and ``validate_run_config``.  Every expected value here is
what Dagster 1.13 gives for the same code; errors name the op and field.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import pytest

import lookout as dg
from lookout._author.execute import RunFailedError
from lookout._base.errors import DefinitionError


class ShipmentConfig(dg.Config):
    carrier: str
    crates: int = 1


class Colour(Enum):
    TEAL = "teal"
    OCHRE = "ochre"


class PaletteConfig(dg.Config):
    shades: dict[str, Colour]


@dg.op
def pack_shipment(config: ShipmentConfig) -> str:
    return f"{config.crates} crates by {config.carrier}"


@dg.op
def paint(context: dg.OpExecutionContext, config: PaletteConfig) -> list[str]:
    return sorted(c.value for c in config.shades.values())


@dg.job
def shipping_job() -> None:
    pack_shipment()


@dg.job
def paint_job() -> None:
    paint()


@dg.asset
def manifest(config: ShipmentConfig) -> str:
    return f"manifest for {config.carrier} x{config.crates}"


@dg.op(
    config_schema={
        "harbour": str,
        "berth": dg.Field(int, default_value=7),
        "pilot": dg.Field(dg.Noneable(str)),
        "extras": dg.Permissive({"tug": dg.Field(bool, default_value=False)}),
    }
)
def dock(context: dg.OpExecutionContext) -> Any:
    return context.op_config


@dg.job
def docking_job() -> None:
    dock()


def test_run_config_becomes_the_dict_form_dagster_stores() -> None:
    config = dg.RunConfig(
        ops={"pack_shipment": ShipmentConfig(carrier="gull")},
        resources={"ledger": {"config": {"path": "/tmp/ledger"}}},
    )
    assert config.to_config_dict() == {
        "loggers": {},
        "resources": {"ledger": {"config": {"path": "/tmp/ledger"}}},
        "ops": {"pack_shipment": {"config": {"carrier": "gull", "crates": 1}}},
        "execution": {},
    }


def test_run_request_takes_a_run_config_object_and_keeps_the_dict() -> None:
    request = dg.RunRequest(
        run_key="r1", run_config=dg.RunConfig({"pack_shipment": ShipmentConfig(carrier="tern")})
    )
    assert request.run_config["ops"] == {
        "pack_shipment": {"config": {"carrier": "tern", "crates": 1}}
    }


def test_op_receives_its_config_model_from_a_run_config() -> None:
    result = shipping_job.execute_in_process(
        run_config=dg.RunConfig({"pack_shipment": ShipmentConfig(carrier="gull", crates=3)})
    )
    assert result.output_for_node("pack_shipment") == "3 crates by gull"


def test_op_config_model_takes_the_dict_form_and_fills_defaults() -> None:
    result = shipping_job.execute_in_process(
        run_config={"ops": {"pack_shipment": {"config": {"carrier": "skua"}}}}
    )
    assert result.output_for_node("pack_shipment") == "1 crates by skua"


def test_asset_receives_its_config_model_through_materialize() -> None:
    result = dg.materialize(
        [manifest], run_config=dg.RunConfig({"manifest": ShipmentConfig(carrier="auk")})
    )
    assert result.output_for_node("manifest") == "manifest for auk x1"


def test_enum_fields_arrive_as_members() -> None:
    config = PaletteConfig(shades={"sea": Colour.TEAL, "sand": Colour.OCHRE})
    result = paint_job.execute_in_process(run_config=dg.RunConfig({"paint": config}))
    assert result.output_for_node("paint") == ["ochre", "teal"]


def test_env_var_field_is_read_where_the_run_executes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIP_CARRIER", "petrel")
    config = dg.RunConfig({"pack_shipment": ShipmentConfig(carrier=dg.EnvVar("SHIP_CARRIER"))})
    # Stored as Dagster stores it: the variable's name, never its value.
    assert config.to_config_dict()["ops"]["pack_shipment"]["config"]["carrier"] == {
        "env": "SHIP_CARRIER"
    }
    result = shipping_job.execute_in_process(run_config=config)
    assert result.output_for_node("pack_shipment") == "1 crates by petrel"


def test_dict_schema_fills_field_defaults_and_keeps_permissive_keys() -> None:
    result = docking_job.execute_in_process(
        run_config={"ops": {"dock": {"config": {"harbour": "Leith", "extras": {"crane": 2}}}}}
    )
    assert result.output_for_node("dock") == {
        "harbour": "Leith",
        "berth": 7,
        "pilot": None,
        "extras": {"crane": 2, "tug": False},
    }


def test_validate_run_config_accepts_a_good_config_and_fills_defaults() -> None:
    validated = dg.validate_run_config(
        shipping_job, {"ops": {"pack_shipment": {"config": {"carrier": "gull"}}}}
    )
    assert validated["ops"]["pack_shipment"]["config"] == {"carrier": "gull", "crates": 1}


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"carrier": "gull", "crates": "3"}, "ops.pack_shipment.config.crates"),
        ({"crates": 3}, "ops.pack_shipment.config.carrier: missing required key"),
        ({"carrier": "gull", "decks": 2}, "ops.pack_shipment.config: unexpected key 'decks'"),
    ],
)
def test_validate_run_config_names_the_op_and_the_field(
    config: dict[str, Any], problem: str
) -> None:
    with pytest.raises(DefinitionError, match="job 'shipping_job'") as raised:
        dg.validate_run_config(shipping_job, {"ops": {"pack_shipment": {"config": config}}})
    assert problem in str(raised.value)


def test_config_field_of_the_wrong_type_fails_the_run_naming_op_and_field() -> None:
    with pytest.raises(RunFailedError, match=r"ops\.pack_shipment\.config\.crates"):
        shipping_job.execute_in_process(
            run_config={"ops": {"pack_shipment": {"config": {"carrier": "gull", "crates": "x"}}}}
        )


def test_dict_schema_errors_name_the_op_and_the_field() -> None:
    with pytest.raises(DefinitionError) as raised:
        dg.validate_run_config(docking_job, {"ops": {"dock": {"config": {"berth": "nine"}}}})
    message = str(raised.value)
    assert "ops.dock.config: missing required key 'harbour'" in message
    assert "ops.dock.config.berth: expected int, got 'nine'" in message


def test_op_called_directly_gets_its_config_from_a_built_context() -> None:
    context = dg.build_op_context(op_config={"carrier": "gannet", "crates": 2})
    assert pack_shipment(context) == "2 crates by gannet"
    assert pack_shipment(config=ShipmentConfig(carrier="shag")) == "1 crates by shag"
