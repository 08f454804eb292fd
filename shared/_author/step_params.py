"""What an op or asset gets besides its inputs: its ``config`` object and its resources.

Dagster passes a ``Config`` model to a parameter named ``config`` annotated
with that model, and a resource to each parameter annotated with a
``ConfigurableResource`` class or ``ResourceParam[...]``.  The same happens
when a test calls the op directly with a context from ``build_op_context``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from lookout._author.config import is_config_class
from lookout._author.config_check import config_errors, resolve_config
from lookout._author.resources import ResourceScope, resource_params, type_hints
from lookout._author.signature import takes_context
from lookout._base.errors import DefinitionError


class Step(Protocol):
    """What this module reads of a plan's step (``execute.Step``)."""

    @property
    def name(self) -> str: ...
    @property
    def fn(self) -> Callable[..., Any]: ...
    @property
    def config_schema(self) -> Any: ...


def config_class(fn: Callable[..., Any]) -> Any:
    """The ``Config`` model a function's ``config`` parameter is annotated with, if any."""
    if "config" not in inspect.signature(fn).parameters:
        return None
    annotation = type_hints(fn).get("config")
    return annotation if is_config_class(annotation) else None


def node_config(step_name: str, run_config: Mapping[str, Any]) -> Any:
    """The ``config`` a run config gives one step (an asset also answers to ``a__b``)."""
    ops = run_config.get("ops") or {}
    node = ops.get(step_name)
    if node is None and "/" in step_name:
        node = ops.get(step_name.replace("/", "__"))
    return node.get("config") if isinstance(node, Mapping) else None


def step_config(step: Step, run_config: Mapping[str, Any]) -> Any:
    """The config a step sees: checked against its schema, defaults filled in."""
    given = node_config(step.name, run_config)
    if step.config_schema is None:
        return given
    path = f"ops.{step.name}.config"
    errors = config_errors(step.config_schema, {} if given is None else given, path)
    if errors:
        raise DefinitionError(f"config of step '{step.name}' is invalid: " + "; ".join(errors))
    return resolve_config(step.config_schema, given, path)


def step_kwargs(step: Step, run_config: Mapping[str, Any], scope: ResourceScope) -> dict[str, Any]:
    """The ``config`` and resource arguments of one step's function."""
    kwargs: dict[str, Any] = {}
    model = config_class(step.fn)
    if model is not None:
        kwargs["config"] = model.model_validate(step_config(step, run_config) or {})
    for name in resource_params(step.fn):
        kwargs[name] = scope.get(name)
    return kwargs


def missing_resources(steps: Sequence[Step], available: Mapping[str, Any]) -> list[str]:
    """``resource 'x' required by 'step'`` for each resource parameter nobody provides."""
    return [
        f"resource '{name}' required by '{step.name}' was not provided"
        for step in steps
        for name in resource_params(step.fn)
        if name not in available
    ]


def direct_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call an op or asset as a test does: config and resources come from its context."""
    context = args[0] if args and _is_context(args[0]) else None
    if context is not None and not takes_context(fn):
        args = args[1:]  # Dagster lets a test pass a context the function does not take
    extra: dict[str, Any] = {}
    model = config_class(fn)
    if model is not None and "config" not in kwargs and context is not None:
        given = getattr(context, "op_config", None)
        if given is not None or not _required(model):
            extra["config"] = model.model_validate(given or {})
    resources = getattr(context, "resources", None)
    params = resource_params(fn)
    for name in params:
        if name not in kwargs and resources is not None and name in resources:
            extra[name] = getattr(resources, name)
    # Resources passed directly are set up for the call and torn down after, as in Dagster.
    given = {n: kwargs.pop(n) for n in params if n in kwargs}
    scope = ResourceScope(given)
    try:
        return fn(*args, **kwargs, **extra, **{n: scope.get(n) for n in given})
    finally:
        scope.close()


def _is_context(value: Any) -> bool:
    return hasattr(value, "op_config") and hasattr(value, "resources")


def _required(model: Any) -> bool:
    return any(f.is_required() for f in model.model_fields.values())
