"""The benchmark's one printed table, from its result document."""

from __future__ import annotations

from typing import Any


def _ms(lateness: dict[str, float]) -> str:
    return f"{lateness['p50']:.1f} / {lateness['p99']:.1f} / {lateness['max']:.1f}"


def _rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    t = result["throughput"]
    celery = result["celery"]
    repeats = t.get("repeats", [])
    spread = ", ".join(f"{r['committed_ticks_per_s']:.0f}" for r in repeats)
    rows = [
        (
            f"committed ticks/s (batch {t['tick_batch_size']}; median of {len(repeats)})",
            f"{t['committed_ticks_per_s']:.0f}  ({spread})",
        ),
        (
            "committed ticks/s (1 tick per message)",
            f"{t['one_tick_per_message']['committed_ticks_per_s']:.0f}",
        ),
        ("gain from batching", f"{t['batch_gain']:.1f}x"),
    ]
    for config, figures in celery.items():
        runs = ", ".join(f"{r:.0f}" for r in figures.get("repeats", []))
        shown = f"{figures['tasks_per_s']:.0f}" + (f"  ({runs})" if runs else "")
        rows.append((f"raw Celery no-op tasks/s ({config})", shown))
        rows.append((f"  committed ticks/s over it ({config})", f"{t['vs_celery'][config]:.2f}x"))
    if "limit" in result:
        lim = result["limit"]
        rows.append(
            (
                f"the limit: minimal batched loop ticks/s ({lim['processes']} processes)",
                f"{lim['ticks_per_s']:.0f}  [{lim['cpu_ms_per_tick']:.3f} CPU-ms/tick]",
            )
        )
        rows.append(("  committed ticks/s as a fraction of it", f"{100 * t['vs_limit']:.1f}%"))
    per_tick = ", ".join(f"{r['cpu_ms_per_tick']:.3f}" for r in repeats)
    rows.append(
        (
            "CPU-ms per tick, all processes + Redis (median)",
            f"{t['cpu_ms_per_tick']:.3f}  ({per_tick})",
        )
    )
    rows.append(("  over the minimal loop's CPU-ms per tick", f"{t['cpu_vs_limit']:.2f}x"))
    rows.append(
        (
            "  CPU-s of other processes in that window",
            f"{t['batched']['other_cpu_s']:.2f} of {2 * t['batched']['window_s']:.0f} "
            "(noise from outside the benchmark)",
        )
    )
    for label, phase in result["lateness"].items():
        rows.append(
            (
                f"lateness p50/p99/max ms at {label} ({phase['sensors']} sensors)",
                _ms(phase["lateness_ms"]) + f"  [{phase['cpu_ms_per_tick']:.3f} CPU-ms/tick]",
            )
        )
    if "low_load" in result:
        low = result["low_load"]
        roles = " / ".join(f"{k} {v:.2f}" for k, v in low["cpu_s"].items())
        rows.append(
            (
                f"low load: {low['sensors']} sensors at {low['interval_s']:g} s, CPU-ms per tick",
                f"{low['cpu_ms_per_tick']:.3f}  ({low['committed_ticks_per_s']:.0f} ticks/s,"
                f" p99 {low['lateness_ms']['p99']:.1f} ms; CPU-s {roles})",
            )
        )
    for size, phase in result["scale"].items():
        rows.append(
            (
                f"scheduler CPU s / 1000 ticks, {size} sensors",
                f"{phase['scheduler_cpu_s_per_1000_ticks']:.4f}"
                f"  ({phase['committed_ticks_per_s']:.0f} ticks/s,"
                f" p99 {phase['lateness_ms']['p99']:.1f} ms)",
            )
        )
    d = result["dedupe"]
    rows += [
        ("run keys checked/s (duplicates)", f"{d['duplicate_keys_per_s']:.0f}"),
        ("new run keys/s (incl. launch entries)", f"{d['new_keys_per_s']:.0f}"),
        ("Redis bytes per run key", f"{d['bytes_per_key']:.1f}"),
    ]
    c = result["cursor"]
    rows.append(
        (
            "10 KB cursor: bytes, encode+decode us",
            f"msgpack {c['msgpack_bytes']} B {c['msgpack_us']:.0f} us; "
            f"JSON {c['json_bytes']} B {c['json_us']:.0f} us",
        )
    )
    launch = result["launch"]
    bursts = ", ".join(f"{r:.0f}" for r in launch["repeats"])
    rows += [
        ("RunRequests/s, commit -> run record", f"{launch['to_run_record_per_s']:.0f}"),
        (
            "RunRequests/s, commit -> SUCCESS (median)",
            f"{launch['to_success_per_s']:.0f}  ({bursts})",
        ),
        (
            "  over raw Celery no-op tasks/s (defaults)",
            f"{launch['vs_celery']:.2f}x",
        ),
        (
            "  one run per message (no packing)",
            f"{launch['one_run_per_message_to_success_per_s']:.0f}",
        ),
    ]
    for key, label in (("overload", "bounded"), ("overload_unbounded", "no pack, no bound")):
        if key in launch:
            o = launch[key]
            rows.append(
                (
                    f"SUCCESS/s at {o['factor']:g}x overload, {o['window_s']:.0f} s ({label})",
                    f"{o['success_per_s']:.0f} ({o['of_capacity']:.2f}x capacity; "
                    f"QUEUED max {o['queued_max']:.0f})",
                )
            )
    for kind, kib in result["peak_memory_kib"].items():
        rows.append((f"peak memory (VmHWM) {kind}", f"{kib / 1024:.1f} MiB"))
    return rows


def table(result: dict[str, Any]) -> str:
    """The figures, then each target with its value and whether it is met."""
    rows = _rows(result)
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    lines.append("")
    for t in result["targets"]:
        mark = "MET    " if t["met"] else "NOT MET"
        lines.append(f"{mark}  {t['target']}: {t['value']:.4g} (bound {t['bound']:g})")
    return "\n".join(lines)
