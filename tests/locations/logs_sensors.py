"""A code location whose sensors and ops log through ``context.log``.

``meter_reader`` logs what it read and asks for a run of ``read_meters``,
whose op logs each meter and whose asset logs its total.  ``flood`` logs far
more lines than a tick keeps.  ``gauge_check`` logs, then fails in a helper
of the user's whose error was raised from another (a chained exception).
``faulty_meters`` asks for a run of ``broken_meters``, whose op fails.
``gated_meters`` logs, then waits until the file its config names exists.
``meter_assets`` materializes ``meter_total``, which logs.
"""

import time
from pathlib import Path

import lookout as dg


@dg.op
def read(context: dg.OpExecutionContext) -> int:
    for meter in ("north", "south"):
        context.log.info("read meter %s", meter)
    context.log.warning("meter east did not answer")
    return 2


@dg.op
def total(context: dg.OpExecutionContext, count: int) -> None:
    context.log.info("total of %d meters", count)


@dg.job
def read_meters() -> None:
    total(read())


def parse_reading(raw: str) -> float:
    try:
        return {"ok": 1.0}[raw]
    except KeyError as exc:
        raise ValueError(f"gauge reading {raw!r} is not a number") from exc


@dg.op
def crash(context: dg.OpExecutionContext) -> None:
    context.log.info("about to parse the east gauge")
    parse_reading("E42")


@dg.job
def broken_meters() -> None:
    crash()


@dg.sensor(job=read_meters, minimum_interval_seconds=1)
def meter_reader(context: dg.SensorEvaluationContext) -> dg.RunRequest:
    n = int(context.cursor or 0) + 1
    context.log.info("polled the meter feed, batch %d", n)
    context.log.debug("a debug line, below INFO")
    context.update_cursor(str(n))
    return dg.RunRequest(run_key=f"meters-{n}")


@dg.sensor(job=read_meters, minimum_interval_seconds=1)
def flood(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    for i in range(500):
        context.log.info("line %d %s", i, "x" * 10)
    return dg.SkipReason("flooded")


@dg.sensor(job=read_meters, minimum_interval_seconds=1)
def gauge_check(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    context.log.info("checking gauge E42")
    parse_reading("E42")
    return dg.SkipReason("unreachable")


@dg.sensor(job=broken_meters, minimum_interval_seconds=1)
def faulty_meters(context: dg.SensorEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"broken-{context.cursor or 0}")


@dg.op(config_schema={"gate": str})
def wait_at_gate(context: dg.OpExecutionContext) -> None:
    gate = Path(context.op_config["gate"])
    context.log.info("waiting at the gate")
    deadline = time.monotonic() + 30
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    context.log.info("through the gate")


@dg.job
def gated_meters() -> None:
    wait_at_gate()


@dg.asset
def meter_total(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    context.log.info("summing the meters")
    return dg.MaterializeResult(metadata={"meters": 3})


meter_assets = dg.define_asset_job("meter_assets", selection=[meter_total])


defs = dg.Definitions(
    assets=[meter_total],
    jobs=[read_meters, broken_meters, gated_meters, meter_assets],
    sensors=[meter_reader, flood, gauge_check, faulty_meters],
)
