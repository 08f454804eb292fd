"""``Definitions`` as Dagster 1.13 takes and answers it: the same object twice, merge, resolve_*.

The values asserted are the ones Dagster 1.13 gives for the same calls.
"""

from __future__ import annotations

from typing import Any

import pytest

import lookout as dg
from lookout._base.errors import DefinitionError


@dg.asset
def parcels() -> int:
    return 40


@dg.op
def weigh() -> int:
    return 2


@dg.job
def weighing_job() -> None:
    weigh()


@dg.sensor(job=weighing_job)
def scale_sensor() -> None:
    return None


@dg.sensor(job=weighing_job, name="scale_sensor")
def other_scale_sensor() -> None:
    return None


weighing_schedule = dg.ScheduleDefinition(job=weighing_job, cron_schedule="0 6 * * *")


def test_the_same_definition_given_twice_counts_once() -> None:
    defs = dg.Definitions(
        assets=[parcels, parcels],
        jobs=[weighing_job, weighing_job],
        sensors=[scale_sensor, scale_sensor],
        schedules=[weighing_schedule, weighing_schedule],
    )
    assert [s.name for s in defs.sensors] == ["scale_sensor"]
    assert [s.name for s in defs.schedules] == ["weighing_job_schedule"]
    assert [j.name for j in defs.jobs] == ["weighing_job"]
    assert defs.asset_keys == [dg.AssetKey("parcels")]


def test_two_different_sensors_of_one_name_are_still_refused() -> None:
    with pytest.raises(DefinitionError, match="two sensors are named 'scale_sensor'"):
        dg.Definitions(sensors=[scale_sensor, other_scale_sensor])


def test_resolve_lookups_answer_as_the_get_lookups() -> None:
    defs = dg.Definitions(
        assets=[parcels], jobs=[weighing_job], sensors=[scale_sensor], schedules=[weighing_schedule]
    )
    assert defs.resolve_sensor_def("scale_sensor") is scale_sensor
    assert defs.resolve_job_def("weighing_job").name == "weighing_job"
    assert defs.resolve_schedule_def("weighing_job_schedule") is weighing_schedule
    assert [j.name for j in defs.resolve_all_job_defs()] == ["__ASSET_JOB", "weighing_job"]
    with pytest.raises(DefinitionError, match="no job named 'scales'"):
        defs.resolve_job_def("scales")


def test_without_computed_assets_there_is_no_asset_job() -> None:
    defs = dg.Definitions(jobs=[weighing_job])
    assert [j.name for j in defs.resolve_all_job_defs()] == ["weighing_job"]


def test_validate_loadable_passes_a_good_definitions_and_refuses_other_values() -> None:
    defs = dg.Definitions(assets=[parcels], sensors=[scale_sensor])
    assert dg.Definitions.validate_loadable(defs) is None
    not_definitions: Any = [scale_sensor]
    with pytest.raises(DefinitionError, match="takes a Definitions"):
        dg.Definitions.validate_loadable(not_definitions)


def test_merge_joins_everything_and_keeps_one_copy_of_shared_definitions() -> None:
    first = dg.Definitions(assets=[parcels], jobs=[weighing_job], sensors=[scale_sensor])
    second = dg.Definitions(schedules=[weighing_schedule], resources={"unit": "kg"})
    merged = dg.Definitions.merge(first, second, first)
    assert isinstance(merged, dg.Definitions)
    assert [s.name for s in merged.sensors] == ["scale_sensor"]
    assert [s.name for s in merged.schedules] == ["weighing_job_schedule"]
    assert [j.name for j in merged.jobs] == ["weighing_job"]
    assert merged.asset_keys == [dg.AssetKey("parcels")]
    assert merged.resources == {"unit": "kg"}


def test_merge_refuses_two_different_resources_under_one_key() -> None:
    with pytest.raises(
        DefinitionError,
        match="Definitions objects 1 and 2 have different resources with same key 'unit'",
    ):
        dg.Definitions.merge(
            dg.Definitions(resources={"unit": "kg"}),
            dg.Definitions(resources={"unit": "kg"}),
            dg.Definitions(resources={"unit": "lb"}),
        )
