"""The context a sensor function receives."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lookout._author.event_records import RunsFilter
from lookout._author.requests import RUN_KEY_TAG, SENSOR_NAME_TAG
from lookout._author.resources import ResourceScope, resource_scope
from lookout._base.codec import encode_value
from lookout._base.errors import CodecError, DefinitionError

# Answers whether the sensor used a run key (``has_run_key``).
HasRunKey = Callable[[str], bool]
# ``context.resources`` not looked at yet.
_UNBUILT: Any = object()


def bounded_lookup(sensor_name: str, lookup: HasRunKey, cap: int) -> HasRunKey:
    """``lookup``, answering at most ``cap`` times; past that a clear error."""
    left = [cap]

    def has(run_key: str) -> bool:
        if left[0] <= 0:
            raise DefinitionError(
                f"sensor '{sensor_name}': more than {cap} context.has_run_key look-ups in "
                "one tick (LOOKOUT_MAX_RUN_KEY_LOOKUPS); give the keys as run requests "
                "instead: the commit drops the used ones"
            )
        left[0] -= 1
        return lookup(run_key)

    return has


def instance_lookup(instance: Any, sensor_name: str | None) -> HasRunKey | None:
    """A test's look-up: the runs of an in-process instance tagged with the key."""
    count = getattr(instance, "get_runs_count", None)
    if count is None:
        return None

    def has(run_key: str) -> bool:
        tags = {RUN_KEY_TAG: run_key}
        if sensor_name is not None:
            tags[SENSOR_NAME_TAG] = sensor_name
        return bool(count(RunsFilter(tags=tags)) > 0)

    return has


class SensorEvaluationContext:
    """What a sensor sees of its own state: its cursor, its name, its last tick.

    Cursors may be any msgpack-encodable value (Dagster allows only strings).
    """

    def __init__(
        self,
        *,
        sensor_name: str | None = None,
        cursor: Any = None,
        last_tick_completion_time: float | Callable[[], float | None] | None = None,
        last_run_key: str | None = None,
        resources: Any = None,
        instance: Any = None,
        repository_name: str | None = None,
        last_sensor_start_time: float | None = None,
        log: logging.Logger | None = None,
        definitions: Any = None,
        trigger_payload: Any = None,
        run_key_lookup: HasRunKey | None = None,
    ) -> None:
        self._sensor_name = sensor_name
        self._run_key_lookup = run_key_lookup
        self._trigger_payload = trigger_payload
        self._cursor = cursor
        self._cursor_updated = False
        self._last_completion = last_tick_completion_time
        self.last_run_key = last_run_key
        # The resources' scope is opened on first use of ``resources``: a context
        # is built for every tick, and most sensors never look.
        self._resource_defs = resources
        self._scope_instance = instance
        self._scope: ResourceScope | None = None
        self._resources: Any = _UNBUILT
        self.instance = instance
        self.definitions = definitions  # the code location's, when a test passes them
        self.repository_name = repository_name
        self.last_sensor_start_time = last_sensor_start_time
        self.log = log or logging.getLogger(f"lookout.sensor.{sensor_name or 'unnamed'}")

    def __enter__(self) -> SensorEvaluationContext:
        return self

    def __exit__(self, *exc: object) -> None:
        """Tear down the resources this context built."""
        if self._scope is not None:
            self._scope.close()

    @property
    def resources(self) -> Any:
        """The resources the sensor may use, each built on first use."""
        if self._resources is _UNBUILT:
            self._scope = resource_scope(self._resource_defs, self._scope_instance)
            scope = self._scope
            self._resources = scope.namespace() if scope is not None else self._resource_defs
        return self._resources

    @resources.setter
    def resources(self, value: Any) -> None:
        self._resources = value

    @property
    def sensor_name(self) -> str | None:
        return self._sensor_name

    @property
    def cursor(self) -> Any:
        return self._cursor

    @property
    def trigger_payload(self) -> Any:
        """The JSON value a push trigger sent with this tick (a lookout extension).

        ``None`` in a tick no trigger with a payload asked for, and in every
        Dagster code path (Dagster has no such thing).  A tick reads the newest
        payload sent since the previous tick read one.
        """
        return self._trigger_payload

    def has_run_key(self, run_key: str) -> bool:
        """Whether this sensor already used ``run_key`` (a lookout extension).

        Dagster has no such look-up.  In a deployment each call is one read of
        the sensor's run keys, at most ``LOOKOUT_MAX_RUN_KEY_LOOKUPS`` per tick
        (past that it raises, failing the tick).  A key it says is used drops
        the request that gives it, unless the request may run again after a
        failed run (``rerun_failed_run_keys``).  In a test, a context from
        ``build_sensor_context`` answers from the runs of its ``instance``
        tagged with the key; without an instance it raises.
        """
        if not isinstance(run_key, str):
            raise DefinitionError(f"has_run_key takes a run key (str), got {run_key!r}")
        if self._run_key_lookup is None:
            raise DefinitionError(
                f"sensor '{self._sensor_name or 'unnamed'}': context.has_run_key needs the "
                "sensor's run keys: in a test, pass build_sensor_context(instance=...)"
            )
        return self._run_key_lookup(run_key)

    @property
    def cursor_updated(self) -> bool:
        return self._cursor_updated

    @property
    def last_tick_completion_time(self) -> float | None:
        """When the sensor's previous tick ended (None before its first)."""
        value = self._last_completion
        return value() if callable(value) else value

    @property
    def last_completion_time(self) -> float | None:
        return self.last_tick_completion_time

    @property
    def is_first_tick_since_sensor_start(self) -> bool:
        """No tick has ended yet, or none since the sensor was last started (Dagster's rule)."""
        ended = self.last_tick_completion_time
        started = self.last_sensor_start_time
        return not ended or (started is not None and started > ended)

    @property
    def repository_def(self) -> Any:
        """The ``Definitions`` a test passed as ``repository_def=`` or ``definitions=``."""
        return self.definitions

    def update_cursor(self, cursor: Any) -> None:
        """Set the cursor this tick stores when it succeeds or skips."""
        try:
            encode_value(cursor)
        except CodecError as exc:
            raise DefinitionError(
                f"sensor '{self._sensor_name or 'unnamed'}': cursor {cursor!r} cannot be "
                f"stored: {exc}"
            ) from exc
        self._cursor = cursor
        self._cursor_updated = True


def build_sensor_context(
    instance: Any = None,
    cursor: Any = None,
    repository_name: str | None = None,
    sensor_name: str | None = None,
    resources: Any = None,
    instance_ref: Any = None,
    repository_def: Any = None,
    last_tick_completion_time: float | None = None,
    last_sensor_start_time: float | None = None,
    definitions: Any = None,
    trigger_payload: Any = None,
) -> SensorEvaluationContext:
    """A context to call a sensor as a plain function in a test.

    ``trigger_payload`` is a lookout extension: what a push trigger would carry.
    ``repository_def=`` is Dagster's older name for ``definitions=``; in
    lookout ``@repository`` gives a ``Definitions``.
    """
    del instance_ref  # accepted for Dagster compatibility: lookout has no instance refs
    return SensorEvaluationContext(
        sensor_name=sensor_name,
        cursor=cursor,
        last_tick_completion_time=last_tick_completion_time,
        resources=resources,
        instance=instance,
        definitions=definitions if definitions is not None else repository_def,
        repository_name=repository_name,
        last_sensor_start_time=last_sensor_start_time,
        trigger_payload=trigger_payload,
        run_key_lookup=instance_lookup(instance, sensor_name),
    )
