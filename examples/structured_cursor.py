"""A sensor over several event streams, its place in each kept in one structured cursor.

Dagster cursors are strings, so such sensors serialize JSON by hand; a lookout
cursor is any msgpack value, here a dict of per-stream offsets.
"""

import os

import lookout as dg

WATCHED = os.environ.get("LOOKOUT_EXAMPLE_DIR", "data")
STREAMS = ("orders", "refunds")


def read_stream(stream: str, after: int) -> list[tuple[int, str]]:
    """Lines of ``<dir>/<stream>.log`` after offset ``after``, numbered from 1."""
    path = os.path.join(WATCHED, f"{stream}.log")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        lines = [line.strip() for line in handle if line.strip()]
    return [(n, line) for n, line in enumerate(lines, start=1) if n > after]


@dg.asset
def ledger(context: dg.AssetExecutionContext) -> None:
    context.log.info("ledger updated for %s", context.run.tags.get("stream"))


ledger_job = dg.define_asset_job("ledger_job", selection=[ledger])


@dg.sensor(
    job=ledger_job, minimum_interval_seconds=2, default_status=dg.DefaultSensorStatus.RUNNING
)
def ledger_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    offsets = dict(context.cursor or {s: 0 for s in STREAMS})
    requests = []
    for stream in STREAMS:
        for offset, line in read_stream(stream, offsets.get(stream, 0)):
            requests.append(
                dg.RunRequest(
                    run_key=f"{stream}:{offset}", tags={"stream": stream, "line": line[:100]}
                )
            )
            offsets[stream] = offset
    if not requests:
        return dg.SensorResult(skip_reason="no new lines in any stream", cursor=offsets)
    return dg.SensorResult(run_requests=requests, cursor=offsets)


defs = dg.Definitions(assets=[ledger], jobs=[ledger_job], sensors=[ledger_sensor])
