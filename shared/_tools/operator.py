"""What the operator's commands do, on the stored state; the CLI only parses and prints."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from lookout._author.definitions import Definitions
from lookout._author.sensors import SensorDefinition
from lookout._base.codec import decode_value, encode_value
from lookout._base.wire import DefaultSensorStatus, TickRecord, TickStatus
from lookout._core.storage import ScheduleStore, SensorState, SensorStore, TickLedger
from lookout._process.schedule_tick import next_due


@dataclass(frozen=True)
class SensorRow:
    """One line of ``lookout sensor list``."""

    name: str
    jobs: tuple[str, ...]
    interval: float
    status: str
    last_tick: TickRecord | None
    in_flight: bool


def effective_status(sensor: SensorDefinition[Any, Any], state: SensorState) -> str:
    """The operator's status if one was set, else the sensor's default status."""
    return state.status or sensor.default_status.value


def sync_definitions(definitions: Definitions, sensors: SensorStore) -> None:
    """Record each sensor's (and schedule's) code-side defaults in Redis (operator
    choices are kept).
    """
    for s in definitions.sensors:
        sensors.sync(s.name, s.default_status, float(s.minimum_interval_seconds))
    sync_schedules(definitions, sensors)


@dataclass(frozen=True)
class ScheduleRow:
    """One line of ``lookout schedule list``."""

    name: str
    cron: str
    timezone: str
    job: str | None
    status: str
    next_fire: float | None  # the next tick's due time (None: not scheduled)
    last_tick: TickRecord | None


def sync_schedules(definitions: Definitions, sensors: SensorStore) -> None:
    """Record each schedule's default status in Redis (operator choices are kept)."""
    for s in definitions.schedules:
        default = DefaultSensorStatus(s.default_status.value)
        sensors.sync(s.name, default, 0.0, schedule=True)


def list_schedules(
    definitions: Definitions, store: SensorStore, schedule: ScheduleStore
) -> list[ScheduleRow]:
    """One row per schedule of ``definitions``."""
    schedules = definitions.schedules
    names = [s.name for s in schedules]
    states = store.states(names)
    due = schedule.due_times(names)
    return [
        ScheduleRow(
            s.name,
            s.cron_schedule if isinstance(s.cron_schedule, str) else ", ".join(s.cron_schedule),
            s.timezone,
            s.job_name,
            state.status or s.default_status.value,
            at,
            state.last,
        )
        for s, state, at in zip(schedules, states, due, strict=True)
    ]


def set_schedule_status(
    definitions: Definitions, sensors: SensorStore, name: str, status: DefaultSensorStatus
) -> None:
    """Start or stop a schedule; a started one is due at its next fire time from now."""
    sched = definitions.get_schedule(name)
    sensors.sync(name, DefaultSensorStatus(sched.default_status.value), 0.0, schedule=True)
    sensors.set_status(name, status, next_due(sched, time.time()), schedule=True)


def list_sensors(definitions: Definitions, store: SensorStore) -> list[SensorRow]:
    """One row per sensor of ``definitions``, read in one round trip."""
    sensors = definitions.sensors
    states = store.states([s.name for s in sensors])
    return [
        SensorRow(
            s.name,
            s.job_names,
            float(s.minimum_interval_seconds),
            effective_status(s, state),
            state.last,
            state.inflight is not None,
        )
        for s, state in zip(sensors, states, strict=True)
    ]


def set_sensor_status(
    definitions: Definitions, sensors: SensorStore, name: str, status: DefaultSensorStatus
) -> None:
    """Start or stop a sensor; it stays so until an operator changes it again."""
    sensor = definitions.get_sensor(name)
    sensors.sync(name, sensor.default_status, float(sensor.minimum_interval_seconds))
    sensors.set_status(name, status, due_at=time.time())


def get_cursor(definitions: Definitions, sensors: SensorStore, name: str) -> Any:
    definitions.get_sensor(name)
    raw = sensors.state(name).cursor
    return None if raw is None else decode_value(raw)


def set_cursor(definitions: Definitions, sensors: SensorStore, name: str, value: Any) -> None:
    """Set (or with ``None`` reset) a cursor; run keys stay, as in Dagster."""
    definitions.get_sensor(name)
    sensors.set_cursor(name, None if value is None else encode_value(value))


def reset_run_keys(definitions: Definitions, sensors: SensorStore, name: str) -> int:
    """Forget every run key a sensor used, so each may launch a run once more.

    Run keys are what keeps a sensor from launching a run twice (invariant 3);
    only an operator's explicit act resets them.  Returns how many were forgotten.
    """
    definitions.get_sensor(name)
    return sensors.reset_run_keys(name)


def tick_history(
    definitions: Definitions, ledger: TickLedger, name: str, limit: int
) -> list[TickRecord]:
    """Newest first; a tick queued or running shows as STARTED (since its claim) at the top."""
    definitions.get_sensor(name)
    ticks = ledger.history(name, limit)
    inflight = ledger.inflight_tick(name)
    if inflight is not None:
        started = TickRecord(
            tick_id=inflight.tick_id,
            sensor=name,
            status=TickStatus.STARTED.value,
            # A mark from before claim times were kept: its time is unknown.
            started_at=inflight.claimed_at if inflight.claimed_at is not None else time.time(),
        )
        ticks = [started, *ticks][:limit]
    return ticks
