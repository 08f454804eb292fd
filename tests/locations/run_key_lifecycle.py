"""A code location for the run-key lifecycle tests (lookout extensions, absent in Dagster).

Every sensor asks for one run of ``flaky_job`` with run key ``nightly``:
``again`` may run a key again after its run failed, ``once`` is Dagster's
(a key runs once, ever), ``flagged`` asks it per request, ``unflagged``
refuses it per request although its sensor allows it, and ``forgetful``
forgets its keys after a second.  ``flaky_job``'s op sleeps
``FLAKY_SLEEP`` seconds (0 by default), then raises.  ``asks`` reports
through its skip reason whether its key is used; ``greedy`` looks up more
keys than a tick may.
"""

import os
import time

import lookout as dg

KEY = "nightly"


@dg.op
def sleeps_then_raises() -> None:
    time.sleep(float(os.environ.get("FLAKY_SLEEP", "0")))
    raise RuntimeError("flaky_job fails on every attempt")


@dg.job
def flaky_job() -> None:
    sleeps_then_raises()


@dg.sensor(job=flaky_job, rerun_failed_run_keys=True)
def again() -> dg.RunRequest:
    return dg.RunRequest(run_key=KEY)


@dg.sensor(job=flaky_job)
def once() -> dg.RunRequest:
    return dg.RunRequest(run_key=KEY)


@dg.sensor(job=flaky_job)
def flagged() -> dg.RunRequest:
    return dg.RunRequest(run_key=KEY, rerun_if_failed=True)


@dg.sensor(job=flaky_job, rerun_failed_run_keys=True)
def unflagged() -> dg.RunRequest:
    return dg.RunRequest(run_key=KEY, rerun_if_failed=False)


@dg.sensor(job=flaky_job, run_key_ttl_seconds=1)
def forgetful(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    keys = context.cursor or [KEY]
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=k) for k in keys])


@dg.sensor(job=flaky_job)
def asks(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    used = context.has_run_key(KEY)
    if used:
        return dg.SensorResult(skip_reason=f"{KEY} used")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=KEY)])


@dg.sensor(job=flaky_job)
def greedy(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    used = sum(context.has_run_key(f"k{i}") for i in range(1000))
    return dg.SkipReason(f"{used} used")


defs = dg.Definitions(
    jobs=[flaky_job], sensors=[again, once, flagged, unflagged, forgetful, asks, greedy]
)
