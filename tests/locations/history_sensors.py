"""A sensor whose outcome the tick history tests steer through ``HISTORY_DO``."""

import os

import lookout as dg


@dg.op
def noop() -> None:
    return None


@dg.job
def work() -> None:
    noop()


@dg.sensor(job=work, minimum_interval_seconds=1)
def steered(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason | None:
    """``skip:<reason>``, ``skip`` (no reason), ``run`` or ``fail``; keeps a binary cursor."""
    do = os.environ.get("HISTORY_DO", "skip")
    context.update_cursor({"bytes": b"\x00\xff", "do": do})
    if do == "run":
        return dg.RunRequest()
    if do == "fail":
        raise RuntimeError("the upstream API is down")
    if do.startswith("skip:"):
        return dg.SkipReason(do[5:])
    return None


defs = dg.Definitions(jobs=[work], sensors=[steered])
