"""Resources of a sensor or schedule function: every parameter after the context is one.

Dagster passes a sensor's resources by parameter name (``def s(context,
my_api: MyApi)``); the tick builds each from the code location's resources,
once per tick, and a resource that fails to build fails the tick with its
reason and the sensor's name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from lookout._author.resources import ResourceInitError
from lookout._base.errors import SensorEvaluationError


def resource_names(fn: Callable[..., Any], takes_context: bool) -> tuple[str, ...]:
    """The parameters of a sensor function that name resources."""
    params = list(inspect.signature(fn).parameters.values())
    if takes_context and params:
        params = params[1:]
    variadic = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    return tuple(p.name for p in params if p.kind not in variadic)


def resource_kwargs(name: str, names: tuple[str, ...], context: Any) -> dict[str, Any]:
    """The resources a sensor's function takes, built from its context's resources."""
    if not names:
        return {}
    resources = getattr(context, "resources", None)
    try:
        missing = [n for n in names if resources is None or n not in resources]
        if missing:
            raise ResourceInitError(f"no resource named {', '.join(map(repr, missing))}")
        return {n: getattr(resources, n) for n in names}
    except ResourceInitError as exc:
        raise SensorEvaluationError(f"sensor '{name}': {exc}") from exc


def call_with_resources(
    fn: Callable[..., Any],
    name: str,
    takes_context: bool,
    names: tuple[str, ...],
    context: Any,
    args: Any,
    kwargs: dict[str, Any],
) -> Any:
    """Call a sensor function; the resources ``names`` it was not given come from ``context``.

    ``names`` is read from the signature once, when the sensor is defined:
    ``inspect.signature`` on every tick would cost a good part of the tick.
    """
    if not names:  # most sensors take no resources: nothing to look up per tick
        return fn(*args, **kwargs)
    given = len(args) - (1 if takes_context else 0)
    wanted = tuple(n for n in names if n not in kwargs)
    if wanted and context is not None and given <= 0:
        kwargs = {**kwargs, **resource_kwargs(name, wanted, context)}
    return fn(*args, **kwargs)
