"""An asset job whose runs a sensor may narrow with ``RunRequest(asset_selection=...)``.

``raw`` feeds ``clean`` as an input; ``report`` only depends on ``clean``
(``deps=``), so it can run alone.  ``pick`` asks for the assets named in
``WORK_PICK`` (comma-separated keys; empty: no selection, the whole job).
"""

import os

import lookout as dg


@dg.asset
def raw() -> int:
    return 1


@dg.asset
def clean(raw: int) -> int:
    return raw + 1


@dg.asset(deps=[clean])
def report() -> str:
    return "done"


assets_job = dg.define_asset_job("assets_job", selection="*")


@dg.sensor(job=assets_job, minimum_interval_seconds=1)
def pick(context: dg.SensorEvaluationContext) -> dg.RunRequest:
    n = int(context.cursor or 0) + 1
    context.update_cursor(str(n))
    wanted = [k for k in os.environ.get("WORK_PICK", "").split(",") if k]
    selection = [dg.AssetKey(k) for k in wanted] if wanted else None
    return dg.RunRequest(run_key=f"pick{n}", asset_selection=selection)


defs = dg.Definitions(assets=[raw, clean, report], jobs=[assets_job], sensors=[pick])
