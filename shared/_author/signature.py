"""Reading a user function's signature: does it take a context, what are its inputs."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from lookout._author.resources import resource_params

_CONTEXT_NAMES = frozenset({"context", "_context", "ctx", "_"})


def takes_context(fn: Callable[..., Any]) -> bool:
    """True when the first positional parameter is a context (named so, or annotated so)."""
    params = positional_params(fn)
    if not params:
        return False
    first = params[0]
    if first.name in _CONTEXT_NAMES:
        return True
    annotation = first.annotation
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return isinstance(name, str) and name.endswith("Context")


def positional_params(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p for p in inspect.signature(fn).parameters.values() if p.kind in kinds]


def input_names(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The parameters after the context: an op's inputs, an asset's upstream assets.

    ``config`` and the parameters annotated as resources are not inputs.
    """
    params = positional_params(fn)
    if takes_context(fn):
        params = params[1:]
    resources = resource_params(fn)
    return tuple(p.name for p in params if p.name != "config" and p.name not in resources)
