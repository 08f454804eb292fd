"""A code location for the run-retry tests.

``doomed`` asks for one run of ``doomed_job`` per tick, tagged
``dagster/max_retries=2``; the job's one op sleeps ``RETRY_SLEEP`` seconds
(0 by default) and raises, so every attempt fails.  ``watch_failures``, a
run-failure sensor, appends one line per failed run it sees to the file
named by ``RETRY_OUTBOX``: the run id, its retry number and its
``dagster/will_retry`` tag.  ``partial_job`` materializes ``archive``,
``base`` and ``fragile`` (which takes ``base`` and always raises);
``tagged_job`` fails too, and its own tags ask for one ALL_STEPS retry.
"""

import os
import time

import lookout as dg


@dg.op
def always_raises() -> None:
    time.sleep(float(os.environ.get("RETRY_SLEEP", "0")))
    raise RuntimeError("this op fails on every attempt")


@dg.job
def doomed_job() -> None:
    always_raises()


@dg.job(tags={"dagster/max_retries": "1", "dagster/retry_strategy": "ALL_STEPS"})
def tagged_job() -> None:
    always_raises()


@dg.sensor(job=doomed_job, minimum_interval_seconds=1)
def doomed() -> dg.RunRequest:
    return dg.RunRequest(tags={"dagster/max_retries": "2", "team": "retries"})


@dg.run_failure_sensor
def watch_failures(context: dg.RunFailureSensorContext) -> None:
    tags = context.dagster_run.tags
    line = " ".join(
        [
            context.dagster_run.run_id,
            tags.get("dagster/retry_number", "0"),
            tags.get("dagster/will_retry", "-"),
        ]
    )
    with open(os.environ["RETRY_OUTBOX"], "a", encoding="utf-8") as outbox:
        outbox.write(line + "\n")


@dg.asset
def archive() -> int:
    return 1


@dg.asset
def base() -> int:
    return 2


@dg.asset
def fragile(base: int) -> int:
    raise RuntimeError(f"fragile fails on every attempt (base={base})")


# Plan order: archive, base, fragile (by dependencies, then name): fragile
# fails after the other two succeeded.
partial_job = dg.define_asset_job("partial_job", selection=[archive, base, fragile])


defs = dg.Definitions(
    assets=[archive, base, fragile],
    jobs=[doomed_job, tagged_job, partial_job],
    sensors=[doomed, watch_failures],
)
