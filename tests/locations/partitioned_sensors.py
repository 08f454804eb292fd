"""Sensors over partitioned jobs and resources, for ticks against a real Redis.

``berth_sensor`` asks for the berths named in ``BERTHS`` (comma-separated) of
the statically partitioned asset job ``berth_job``; ``inspection_sensor``
asks for a partition of ``inspection_job``, whose run config comes from a
partitioned config; ``harbour_master`` needs a resource that cannot be built
when ``HARBOUR_UNREACHABLE`` is set; ``survey_sensor`` gives ``survey_job`` the
depth in ``SURVEY_DEPTH``, an int only when it is all digits.
"""

import os
from collections.abc import Iterator

import lookout as dg

berths = dg.StaticPartitionsDefinition(["north", "south"])


@dg.asset(partitions_def=berths)
def berth_log(context: dg.AssetExecutionContext) -> str:
    return f"logged {context.partition_key}"


berth_job = dg.define_asset_job("berth_job", selection=[berth_log])


@dg.sensor(job=berth_job, minimum_interval_seconds=1)
def berth_sensor() -> Iterator[dg.RunRequest]:
    for berth in os.environ.get("BERTHS", "north").split(","):
        yield dg.RunRequest(run_key=berth, partition_key=berth)


class InspectionConfig(dg.Config):
    berth: str


@dg.op
def inspect_berth(config: InspectionConfig) -> str:
    return f"inspected {config.berth}"


@dg.static_partitioned_config(partition_keys=["north", "south"])
def inspection_config(partition_key: str) -> dg.RunConfig:
    return dg.RunConfig(ops={"inspect_berth": InspectionConfig(berth=partition_key)})


@dg.job(config=inspection_config)
def inspection_job() -> None:
    inspect_berth()


@dg.sensor(job=inspection_job, minimum_interval_seconds=1)
def inspection_sensor() -> dg.RunRequest:
    return dg.RunRequest(run_key="south", partition_key="south")


class HarbourResource(dg.ConfigurableResource):
    host: str

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if os.environ.get("HARBOUR_UNREACHABLE"):
            raise ConnectionError(f"harbour {self.host} does not answer")

    def berths_free(self) -> list[str]:
        return ["north"]


@dg.sensor(job=berth_job, minimum_interval_seconds=1)
def harbour_master(
    context: dg.SensorEvaluationContext, harbour: HarbourResource
) -> Iterator[dg.RunRequest]:
    for berth in harbour.berths_free():
        yield dg.RunRequest(run_key=f"free-{berth}", partition_key=berth)


class SurveyConfig(dg.Config):
    depth: int


@dg.op
def survey(config: SurveyConfig) -> int:
    return config.depth


@dg.job
def survey_job() -> None:
    survey()


@dg.sensor(job=survey_job, minimum_interval_seconds=1)
def survey_sensor() -> dg.RunRequest:
    # The depth as the environment gives it: a string, which an int field refuses.
    depth = os.environ.get("SURVEY_DEPTH", "12")
    value: object = int(depth) if depth.isdigit() else depth
    return dg.RunRequest(
        run_key=f"depth-{depth}", run_config={"ops": {"survey": {"config": {"depth": value}}}}
    )


defs = dg.Definitions(
    assets=[berth_log],
    jobs=[berth_job, inspection_job, survey_job],
    sensors=[berth_sensor, inspection_sensor, harbour_master, survey_sensor],
    resources={"harbour": HarbourResource(host="pier-3")},
)
