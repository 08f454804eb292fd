"""The benchmark harness runs end to end at tiny sizes and reports every figure.

The benchmark itself stays out of the suite (``make bench``); this proves its
command works: real redis-server, scheduler, worker pool and launcher, the
raw Celery baseline, the minimal batched loop (the limit), and a JSON
document with each figure measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

TINY = [
    "--workers", "2",
    "--sensors", "200",
    "--interval", "1",
    "--capacity-interval", "0.5",
    "--low-sensors", "20",
    "--duration", "1",
    "--warmup", "1",
    "--celery-tasks", "100",
    "--fractions", "0.25,0.5,0.9",
    "--scale-sizes", "50,150",
    "--scale-rate", "50",
    "--runs", "20",
    "--overload-duration", "2",
    "--dedupe-keys", "2000",
    "--capacity-repeats", "2",
]  # fmt: skip


def _number(doc: dict[str, object], *path: str) -> float:
    value: object = doc
    for part in path:
        assert isinstance(value, dict), f"{'.'.join(path)}: {part} missing"
        value = value[part]
    assert isinstance(value, int | float) and not isinstance(value, bool), (path, value)
    return float(value)


def _run(module: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python -m module args``, which must succeed within ``timeout`` s."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.mark.long
def test_bench_command_writes_every_figure_at_tiny_sizes(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = _run("bench", *TINY, "--output", str(out), timeout=240)
    assert "raw Celery no-op tasks/s" in done.stdout  # the printed table
    doc = json.loads(out.read_text())

    assert _number(doc, "throughput", "committed_ticks_per_s") > 0
    assert _number(doc, "throughput", "one_tick_per_message", "committed_ticks_per_s") > 0
    assert _number(doc, "throughput", "batch_gain") > 0
    assert _number(doc, "throughput", "cpu_ms_per_tick") > 0
    # The batched capacity phase ran twice; the figure is one of its runs.
    repeats = [r["committed_ticks_per_s"] for r in doc["throughput"]["repeats"]]
    assert len(repeats) == 2
    assert _number(doc, "throughput", "committed_ticks_per_s") in repeats
    for config in ("defaults", "lookout"):
        assert _number(doc, "celery", config, "tasks_per_s") > 0
        # The raw Celery baseline ran as often, its figure one of its runs too.
        runs = doc["celery"][config]["repeats"]
        assert len(runs) == 2 and _number(doc, "celery", config, "tasks_per_s") in runs
        assert _number(doc, "throughput", "vs_celery", config) > 0
    assert set(doc["lateness"]) == {"25%", "50%", "90%"}
    for level in doc["lateness"]:
        assert _number(doc, "lateness", level, "committed_ticks") > 0
        for q in ("p50", "p99", "max"):
            assert _number(doc, "lateness", level, "lateness_ms", q) >= 0
    assert set(doc["scale"]) == {"50", "150"}
    for size in doc["scale"]:
        assert _number(doc, "scale", size, "scheduler_cpu_s_per_1000_ticks") >= 0
        assert _number(doc, "scale", size, "published_ticks") > 0
    assert _number(doc, "dedupe", "duplicate_keys_per_s") > 0
    assert 0 < _number(doc, "dedupe", "bytes_per_key") < 1000
    assert _number(doc, "cursor", "msgpack_bytes") < _number(doc, "cursor", "json_bytes")
    assert _number(doc, "launch", "to_run_record_per_s") > 0
    assert _number(doc, "launch", "to_success_per_s") > 0
    # The burst is the overload's capacity: run as often as the capacity
    # phase, its figure the median run's (one burst moved 1,017-1,313 runs/s).
    bursts = doc["launch"]["repeats"]
    assert len(bursts) == 2 and _number(doc, "launch", "to_success_per_s") in bursts
    for phase in ("overload", "overload_unbounded"):
        capacity = _number(doc, "launch", phase, "capacity_runs_per_s")
        assert capacity == _number(doc, "launch", "to_success_per_s")
    assert _number(doc, "launch", "vs_celery") > 0
    assert _number(doc, "launch", "one_run_per_message_to_success_per_s") > 0
    for phase in ("overload", "overload_unbounded"):
        assert _number(doc, "launch", phase, "success_per_s") >= 0
        assert _number(doc, "launch", phase, "offered_runs_per_s") > 0
    kinds = {"scheduler", "worker_main", "worker_pool_child", "launcher", "redis"}
    assert set(doc["peak_memory_kib"]) == kinds
    assert all(_number(doc, "peak_memory_kib", k) > 1000 for k in kinds)
    for kind in ("quiet", "alternating"):
        assert _number(doc, "memory", kind, "bytes_per_sensor") > 0
    assert _number(doc, "memory", "quiet", "history_entries") == 1
    # The limit, measured in the same run, and lookout's share of it.
    assert _number(doc, "limit", "ticks_per_s") > 0
    assert _number(doc, "limit", "cpu_ms_per_tick") > 0
    assert _number(doc, "throughput", "vs_limit") > 0
    # Its CPU per tick against the loop's, which tells machines apart least.
    cpu_ratio = _number(doc, "throughput", "cpu_ms_per_tick") / _number(
        doc, "limit", "cpu_ms_per_tick"
    )
    assert _number(doc, "throughput", "cpu_vs_limit") == cpu_ratio
    assert "over the minimal loop's CPU-ms per tick" in done.stdout
    assert _number(doc, "low_load", "committed_ticks") > 0
    assert _number(doc, "low_load", "cpu_ms_per_tick") > 0
    assert "the limit: minimal batched loop ticks/s" in done.stdout
    # Every target of DESIGN.md and issue 14 is judged: 9 of the first round,
    # 2 for runs, 5 against the limit, at low load and at half load, 2 for
    # the history.
    assert len(doc["targets"]) == 18
    assert all(isinstance(t["met"], bool) for t in doc["targets"])


POOL_SIDE_TINY = ["--sensors", "300", "--per-message", "100", "--rounds", "1"]


def test_pool_side_command_reports_python_redis_and_each_script_per_tick() -> None:
    done = _run("bench.pool_side", *POOL_SIDE_TINY, timeout=120)
    doc = json.loads(done.stdout)
    assert doc["ticks"] == 300  # one counted round of every sensor, the warm-up left out
    assert _number(doc, "python_us_per_tick") > 0
    assert _number(doc, "redis_us_per_tick") > 0
    # Redis's slow log timed every script a tick passes through on this side.
    assert set(doc["script_us_per_tick"]) == {"claim_due", "publish", "take_up", "commit"}
    for script in doc["script_us_per_tick"]:
        assert _number(doc, "script_us_per_tick", script) > 0


def test_pool_side_with_callgrind_counts_redis_instructions_per_tick_instead_of_times() -> None:
    done = _run("bench.pool_side", *POOL_SIDE_TINY, "--callgrind", timeout=240)
    doc = json.loads(done.stdout)
    assert doc["ticks"] == 300
    # Redis ran under callgrind; this process did not, so only Redis was counted.
    assert set(doc["instructions_per_tick"]) == {"redis"}
    # A tick is tens of thousands of instructions of Redis (a claim, a take-up, a commit).
    assert _number(doc, "instructions_per_tick", "redis") > 10_000
    assert "redis_us_per_tick" not in doc and "script_us_per_tick" not in doc


WAITS_TINY = ["--sensors", "200", "--interval", "0.5", "--duration", "1", "--warmup", "1"]


def test_waits_command_reports_each_process_share_run_states_and_redis_commands() -> None:
    done = _run("bench.waits", *WAITS_TINY, "--every", "0.002", "--top", "5", timeout=180)
    doc = json.loads(done.stdout)
    assert _number(doc, "committed_ticks") > 0
    # Every process of the stack's tick path, the worker's two pool processes apart.
    assert set(doc["processes"]) == {"redis", "scheduler", "worker_main", "pool_1", "pool_2"}
    for role in doc["processes"]:
        assert _number(doc, "processes", role, "cpu_share") >= 0
        assert 0 <= _number(doc, "processes", role, "runnable_share") <= 1
    # The pool processes evaluated ticks in the window: seen running.
    pools = ("pool_1", "pool_2")
    assert sum(_number(doc, "processes", pool, "runnable_share") for pool in pools) > 0
    assert _number(doc, "readings") > 10
    # Shares of the readings and of the machine's time, each a whole (to rounding).
    assert abs(sum(doc["runnable_at_once"].values()) - 1) < 0.02
    assert abs(sum(doc["machine_share"].values()) - 1) < 0.02
    # Redis's commands by time, the scripts among them, at most --top of them.
    commands = {row["command"]: row for row in doc["redis_commands"]}
    assert 0 < len(commands) <= 5
    assert commands["evalsha"]["calls"] > 0
