"""``AssetSelection`` and the targets built from it: keys, groups, graph walks, set algebra."""

from __future__ import annotations

import pytest

import lookout as dg
from lookout._base.errors import DefinitionError


@dg.asset(group_name="raw")
def beans() -> int:
    return 1


@dg.asset(group_name="raw")
def milk() -> int:
    return 2


@dg.asset(deps=[beans], group_name="cafe")
def grounds() -> int:
    return 3


@dg.asset(deps=[grounds, milk], group_name="cafe")
def latte() -> int:
    return 4


@dg.asset(deps=[latte])
def receipt() -> int:
    return 5


ASSETS = [beans, milk, grounds, latte, receipt]


def names(selection: dg.AssetSelection) -> list[str]:
    return [k.to_user_string() for k in selection.resolve(ASSETS)]


def test_selection_by_key_group_and_all() -> None:
    assert names(dg.AssetSelection.assets("beans", dg.AssetKey("milk"))) == ["beans", "milk"]
    assert names(dg.AssetSelection.assets(latte)) == ["latte"]
    assert names(dg.AssetSelection.keys("receipt")) == ["receipt"]
    assert names(dg.AssetSelection.groups("raw")) == ["beans", "milk"]
    assert names(dg.AssetSelection.all()) == ["beans", "milk", "grounds", "latte", "receipt"]


def test_selection_walks_up_and_down_the_graph() -> None:
    assert names(dg.AssetSelection.assets(latte).upstream()) == [
        "beans",
        "milk",
        "grounds",
        "latte",
    ]
    assert names(dg.AssetSelection.assets(latte).upstream(depth=1, include_self=False)) == [
        "milk",
        "grounds",
    ]
    assert names(dg.AssetSelection.assets(beans).downstream()) == [
        "beans",
        "grounds",
        "latte",
        "receipt",
    ]


def test_selection_set_operators() -> None:
    raw, cafe = dg.AssetSelection.groups("raw"), dg.AssetSelection.groups("cafe")
    assert names(raw | cafe) == ["beans", "milk", "grounds", "latte"]
    assert names(dg.AssetSelection.all() - raw) == ["grounds", "latte", "receipt"]
    assert names(dg.AssetSelection.assets(latte).upstream() & cafe) == ["grounds", "latte"]


def test_asset_job_and_sensor_targets_take_selections() -> None:
    cafe_job = dg.define_asset_job("cafe_job", selection=dg.AssetSelection.groups("cafe"))

    @dg.sensor(target=dg.AssetSelection.assets(receipt).upstream(depth=1))
    def till() -> dg.RunRequest:
        return dg.RunRequest()

    @dg.sensor(target=[beans, milk])
    def delivery() -> None:
        return None

    @dg.sensor(target=receipt)
    def printer() -> None:
        return None

    defs = dg.Definitions(assets=ASSETS, jobs=[cafe_job], sensors=[till, delivery, printer])
    steps = [s.name for s in defs.get_job_def("cafe_job").steps]
    assert steps == ["grounds", "latte"]
    (job_name,) = defs.get_sensor_def("till").job_names
    assert [s.name for s in defs.get_job_def(job_name).steps] == ["latte", "receipt"]
    (delivery_job,) = defs.get_sensor_def("delivery").job_names
    assert [s.name for s in defs.get_job_def(delivery_job).steps] == ["beans", "milk"]
    (printer_job,) = defs.get_sensor_def("printer").job_names
    assert [s.name for s in defs.get_job_def(printer_job).steps] == ["receipt"]


def test_unknown_asset_keys_in_a_selection_name_the_sensor_or_the_job() -> None:
    @dg.sensor(target=dg.AssetSelection.keys("espresso"))
    def orders() -> None:
        return None

    with pytest.raises(DefinitionError, match=r"sensor 'orders'.*\['espresso'\]"):
        dg.Definitions(assets=ASSETS, sensors=[orders])
    bad_job = dg.define_asset_job("tea_job", selection=["tea"])
    with pytest.raises(DefinitionError, match=r"job 'tea_job'.*\['tea'\]"):
        dg.Definitions(assets=ASSETS, jobs=[bad_job])
