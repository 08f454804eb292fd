"""``@multi_asset_sensor``: a sensor over the materializations of several assets.

Called as a plain function with a ``MultiAssetSensorEvaluationContext``
(``build_multi_asset_sensor_context``), it runs the user's function and then
folds the cursor advances into the context's cursor, as Dagster's does.  On
a tick (``evaluate``), its function is Dagster's evaluation: it builds that
context from the tick's context (reading ``context.instance``, any
``AssetEventSource``), runs the user's function, refuses a run request with
no cursor advance, and stores the per-asset cursor.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar, cast

from lookout._author.asset_selection import AssetSelection, coerce_key
from lookout._author.context import SensorEvaluationContext
from lookout._author.multi_asset_context import MultiAssetSensorEvaluationContext
from lookout._author.requests import RunRequest, SensorResult
from lookout._author.sensors import (
    Common,
    JobLike,
    SensorDefinition,
    SensorKind,
    Targets,
    make_sensor,
)
from lookout._author.signature import takes_context
from lookout._base.errors import SensorEvaluationError
from lookout._base.wire import DefaultSensorStatus

P = ParamSpec("P")
R = TypeVar("R")


def _items(name: str, result: Any) -> Iterator[Any]:
    if inspect.isgenerator(result) or isinstance(result, list):
        for item in result:
            if isinstance(item, SensorResult):
                raise SensorEvaluationError(
                    f"sensor '{name}' yielded a SensorResult; return it instead"
                )
            yield item
    elif result is not None:
        if isinstance(result, SensorResult) and result.cursor:
            raise SensorEvaluationError(
                f"sensor '{name}' set a cursor in its SensorResult; a multi_asset_sensor's "
                "cursor moves with context.advance_cursor / advance_all_cursors"
            )
        yield result


def _requests_runs(item: Any) -> bool:
    return isinstance(item, RunRequest) or (
        isinstance(item, SensorResult) and bool(item.run_requests)
    )


class MultiAssetSensorDefinition(SensorDefinition[P, R]):
    """A sensor over several assets' materializations, with one cursor per asset."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        monitored_assets: Sequence[Any] | AssetSelection,
        **kwargs: Any,
    ) -> None:
        self.raw_fn = fn
        self.monitored_assets = monitored_assets
        self._raw_takes_context = takes_context(fn)
        options = {"monitored_assets": _describe(monitored_assets)}
        super().__init__(fn, kind=SensorKind.MULTI_ASSET, options=options, **kwargs)
        self.fn = cast(Callable[P, R], self._evaluate)
        self.takes_context = True

    def _context(self, context: SensorEvaluationContext) -> MultiAssetSensorEvaluationContext:
        if isinstance(context, MultiAssetSensorEvaluationContext):
            return context
        return MultiAssetSensorEvaluationContext(
            monitored_assets=self.monitored_assets,
            definitions=getattr(context, "definitions", None),
            sensor_name=self.name,
            cursor=context.cursor,
            instance=context.instance,
            resources=context.resources,
            log=context.log,
        )

    def _evaluate(self, context: SensorEvaluationContext) -> Iterator[Any]:
        """Dagster's tick evaluation of a multi-asset sensor (see module doc)."""
        multi = self._context(context)
        raw: Callable[..., Any] = self.raw_fn
        result = raw(multi) if self._raw_takes_context else raw()
        ran = False
        for item in _items(self.name, result):
            ran = ran or _requests_runs(item)
            yield item
        if ran and not multi.cursor_updated:
            raise SensorEvaluationError(
                f"sensor '{self.name}' asked for runs but did not advance its cursor, so the "
                "same materializations would be handled again; call context.advance_cursor "
                "or context.advance_all_cursors"
            )
        multi.update_cursor_after_evaluation()
        if multi is not context and multi.cursor != context.cursor:
            context.update_cursor(multi.cursor)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """The user's function; the context's cursor then takes the advances made."""
        result = self.raw_fn(*args, **kwargs)
        for arg in [*args, *kwargs.values()]:
            if isinstance(arg, MultiAssetSensorEvaluationContext):
                arg.update_cursor_after_evaluation()
        return result


def _describe(monitored: Sequence[Any] | AssetSelection) -> list[str] | str:
    if isinstance(monitored, AssetSelection):
        return repr(monitored)
    return [coerce_key(k).to_user_string() for k in monitored]


def multi_asset_sensor(
    monitored_assets: Sequence[Any] | AssetSelection,
    *,
    job_name: str | None = None,
    name: str | None = None,
    minimum_interval_seconds: int | float | None = None,
    description: str | None = None,
    job: JobLike | None = None,
    jobs: Sequence[JobLike] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    request_assets: AssetSelection | None = None,
    required_resource_keys: Any = None,
    tags: Mapping[str, str] | None = None,
    metadata: Any = None,
    target: Any = None,
) -> Callable[[Callable[P, R]], MultiAssetSensorDefinition[P, R]]:
    """A sensor over the materializations of ``monitored_assets`` (keys or a selection)."""
    del required_resource_keys, metadata

    def wrap(fn: Callable[P, R]) -> MultiAssetSensorDefinition[P, R]:
        common = Common(name, minimum_interval_seconds, description, default_status, tags)
        targets = Targets(job, jobs, target, request_assets, job_name)
        made = make_sensor(
            fn, common, targets, MultiAssetSensorDefinition, monitored_assets=monitored_assets
        )
        return cast(MultiAssetSensorDefinition[P, R], made)

    return wrap
