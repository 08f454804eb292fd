"""``SensorDefinition(...)`` built directly, as Dagster 1.13's constructor takes it, and ``.job``.

Sensor factories and Dagster's own tests write
``SensorDefinition(evaluation_fn=fn, job=...)`` or ``SensorDefinition("name", ...)``
and read ``sensor.job``, ``metadata`` and ``required_resource_keys``.  Values
are Dagster 1.13's for the same calls.
"""

from __future__ import annotations

import pytest

import lookout as dg
from lookout._base.errors import DefinitionError


def poll_mailbox() -> dg.RunRequest:
    return dg.RunRequest(run_key="letter-4")


@dg.op
def sort_letters() -> int:
    return 4


@dg.job
def sorting_job() -> None:
    sort_letters()


@dg.job
def stamping_job() -> None:
    sort_letters()


def test_a_sensor_built_from_an_evaluation_fn_and_a_job() -> None:
    built = dg.SensorDefinition(evaluation_fn=poll_mailbox, job=sorting_job)
    assert built.name == "poll_mailbox"
    assert built.job is sorting_job
    assert built.job_name == "sorting_job"
    assert built.minimum_interval_seconds == 30
    assert built.default_status == dg.DefaultSensorStatus.STOPPED
    data = built.evaluate_tick(dg.build_sensor_context())
    assert [r.run_key for r in data.run_requests] == ["letter-4"]


def test_a_sensor_named_first_with_several_jobs_metadata_and_resource_keys() -> None:
    built = dg.SensorDefinition(
        "mailroom",
        evaluation_fn=poll_mailbox,
        jobs=[sorting_job, stamping_job],
        metadata={"floor": "2"},
        required_resource_keys={"mailbox"},
        minimum_interval_seconds=90,
    )
    assert built.name == "mailroom"
    assert [j.name for j in built.jobs] == ["sorting_job", "stamping_job"]
    assert built.metadata == {"floor": "2"}
    assert built.required_resource_keys == {"mailbox"}
    assert built.minimum_interval_seconds == 90
    with pytest.raises(DefinitionError, match="several jobs"):
        _ = built.job


def test_a_sensor_targeting_a_job_by_name_has_no_job_object() -> None:
    built = dg.SensorDefinition(name="by_name", evaluation_fn=poll_mailbox, job_name="sorting_job")
    assert built.job_name == "sorting_job"
    with pytest.raises(DefinitionError, match="a job by name only"):
        _ = built.job
    untargeted = dg.SensorDefinition(name="nowhere", evaluation_fn=poll_mailbox)
    with pytest.raises(DefinitionError, match="no job"):
        _ = untargeted.job


def test_a_sensor_without_a_function_is_refused() -> None:
    with pytest.raises(DefinitionError, match="give it an evaluation_fn"):
        dg.SensorDefinition(name="empty", job=sorting_job)


def test_the_decorator_keeps_metadata_and_required_resource_keys() -> None:
    @dg.sensor(job=sorting_job, metadata={"floor": "3"}, required_resource_keys={"mailbox"})
    def upstairs_sensor() -> None:
        return None

    assert upstairs_sensor.metadata == {"floor": "3"}
    assert upstairs_sensor.required_resource_keys == {"mailbox"}
    assert upstairs_sensor.job is sorting_job
