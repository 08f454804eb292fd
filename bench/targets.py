"""The issue's and DESIGN.md's targets, judged from one result document."""

from __future__ import annotations

import math
from typing import Any


def _target(name: str, value: float, bound: float, higher_is_better: bool) -> dict[str, Any]:
    met = value >= bound if higher_is_better else value <= bound
    return {
        "target": name,
        "value": value,
        "bound": bound,
        "met": bool(met) and not math.isnan(value),
    }


def _scale_ratio(scale: dict[str, Any]) -> float:
    if len(scale) < 2:
        return math.nan
    sizes = sorted(scale, key=int)
    first = scale[sizes[0]]["scheduler_cpu_s_per_1000_ticks"]
    last = scale[sizes[-1]]["scheduler_cpu_s_per_1000_ticks"]
    return float(last / first) if first > 0 else math.nan


def _interval_held(scale: dict[str, Any]) -> dict[str, Any]:
    """At the smallest scale size (1 s at 1,000 sensors by default): p99 lateness < 100 ms.

    The next tick is due an interval after this one started, so a sensor's
    real period is its interval plus its lateness: with a p99 below 100 ms
    the interval holds within 10% for 99% of ticks.
    """
    if not scale:
        return _target("interval held (no scale phase)", math.nan, 100, False)
    size = min(scale, key=int)
    phase = scale[size]
    name = (
        f"{phase['interval_s']:g} s interval held at {size} sensors: p99 lateness < 100 ms "
        "(DESIGN.md: 1 s at 1,000)"
    )
    return _target(name, float(phase["lateness_ms"]["p99"]), 100, False)


def _run_targets(launch: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 14: runs to SUCCESS at least as fast as raw Celery, and no collapse under overload."""
    overload = launch.get("overload", {})
    factor = overload.get("factor", 5.0)
    return [
        _target(
            "RunRequests to SUCCESS/s >= 1x raw Celery no-op tasks/s (same run)",
            float(launch.get("vs_celery", math.nan)),
            1,
            True,
        ),
        _target(
            f"SUCCESS/s under {factor:g}x overload >= 90% of the burst's (same run)",
            float(overload.get("of_capacity", math.nan)),
            0.9,
            True,
        ),
    ]


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value and whether it is met."""
    throughput = result["throughput"]
    vs_celery = throughput["vs_celery"]["defaults"]
    vs_limit = throughput.get("vs_limit", math.nan)
    low = result.get("low_load", {}).get("cpu_ms_per_tick", math.nan)
    half = result["lateness"].get("50%", {}).get("lateness_ms", {}).get("p99", math.nan)
    dedupe = result["dedupe"]
    return [
        _target("committed ticks/s >= 1x raw Celery no-op tasks/s (same run)", vs_celery, 1, True),
        _target("... aim: 3x", vs_celery, 3, True),
        _target("p99 lateness at 50% of capacity < 100 ms", half, 100, False),
        _target(
            "scheduler CPU/1000 ticks, largest / smallest size <= 1.5",
            _scale_ratio(result["scale"]),
            1.5,
            False,
        ),
        _target(
            "run keys checked/s (duplicates) >= 300k", dedupe["duplicate_keys_per_s"], 300_000, True
        ),
        _target("Redis bytes per run key <= 100", dedupe["bytes_per_key"], 100, False),
        _target(
            "committed ticks/s >= 3000 (DESIGN.md)", throughput["committed_ticks_per_s"], 3000, True
        ),
        _target(
            "CPU-ms per tick, all processes and Redis, <= 0.4 (DESIGN.md)",
            throughput["cpu_ms_per_tick"],
            0.4,
            False,
        ),
        _interval_held(result["scale"]),
        *_run_targets(result["launch"]),
        # Issue 14's targets, each against its baseline in the same run.
        _target(
            "committed ticks/s >= 40% of the minimal batched loop (same run; issue 14)",
            vs_limit,
            0.4,
            True,
        ),
        _target(
            "committed ticks/s >= 30x raw Celery no-op tasks/s (issue 14)", vs_celery, 30, True
        ),
        _target(
            "CPU-ms per tick at capacity, all processes and Redis, <= 0.06 (issue 14)",
            throughput["cpu_ms_per_tick"],
            0.06,
            False,
        ),
        _target("CPU-ms per tick at 200 sensors on 1 s <= 0.3 (issue 14)", low, 0.3, False),
        _target("p99 lateness at 50% of capacity < 50 ms (issue 14)", half, 50, False),
    ]
