"""Config: Dagster's Pythonic ``Config`` models, ``RunConfig``, and the dict schema objects.

A run's config is always stored in the dict form (``{"ops": {name: {"config":
{...}}}, "resources": {...}}``); ``RunConfig`` and ``Config`` instances are
turned into it where they are accepted.  ``config_errors`` checks a value
against any schema an op, asset or resource may declare: a ``Config`` class
(checked by pydantic in strict mode, as Dagster's config system does not
coerce ``"3"`` to ``3``), a plain type, a dict of schemas, ``[schema]``,
``Field``, ``Noneable``, ``Permissive`` and ``Shape``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic

from lookout._base.errors import DefinitionError


class EnvVar(str):
    """A config value read from the environment when the resource or run is set up."""

    __slots__ = ()

    @classmethod
    def int(cls, name: str) -> IntEnvVar:
        return IntEnvVar(name)

    @property
    def env_var_name(self) -> str:
        return str.__str__(self)

    def get_value(self, default: str | None = None) -> str | None:
        return os.environ.get(self.env_var_name, default)


class IntEnvVar(EnvVar):
    """``EnvVar.int(name)``: an environment variable read as an int."""

    __slots__ = ()


class Config(pydantic.BaseModel):
    """The config of an op, asset or resource, as a typed, immutable model.

    Fields given as ``EnvVar`` are remembered as such (pydantic would keep
    only the variable's name as a plain string): they are read from the
    environment where the run executes, and stored as ``{"env": NAME}``.
    """

    model_config = pydantic.ConfigDict(frozen=True, arbitrary_types_allowed=True)
    _env_vars: dict[str, EnvVar] = pydantic.PrivateAttr(default_factory=dict)

    # A wrap validator rather than __init__: a custom __init__ would make
    # pydantic validate through it, in lax mode, even when asked for strict.
    @pydantic.model_validator(mode="wrap")
    @classmethod
    def _remember_env_vars(cls, data: Any, handler: pydantic.ModelWrapValidatorHandler[Any]) -> Any:
        model = handler(data)
        if isinstance(data, Mapping) and isinstance(model, Config):
            model._env_vars = {k: v for k, v in data.items() if isinstance(v, EnvVar)}
        return model

    def env_var(self, field_name: str) -> EnvVar | None:
        """The ``EnvVar`` a field was given as, if it was."""
        return self._env_vars.get(field_name)


class PermissiveConfig(Config):
    """A ``Config`` that also keeps fields its class does not declare."""

    model_config = pydantic.ConfigDict(extra="allow")


def config_dict(value: Any) -> Any:
    """A ``Config`` instance as the plain dict a run config holds; other values unchanged."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="python")
    return value


@dataclass(frozen=True)
class RunConfig:
    """A run's config in Python objects: ``RunConfig(ops={"my_op": MyConfig(...)})``."""

    ops: Mapping[str, Any] | None = None
    resources: Mapping[str, Any] | None = None
    loggers: Mapping[str, Any] | None = None
    execution: Mapping[str, Any] | None = None

    def to_config_dict(self) -> dict[str, Any]:
        """The dict form, as Dagster's ``RunConfig.to_config_dict`` gives it."""
        return {
            "loggers": dict(self.loggers or {}),
            "resources": {k: _node(v) for k, v in (self.resources or {}).items()},
            "ops": {k: _node(v) for k, v in (self.ops or {}).items()},
            "execution": dict(self.execution or {}),
        }


def _node(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return {"config": _unresolved_dump(value)}
    if isinstance(value, RunConfig):
        return value.to_config_dict()
    return value


def _unresolved_dump(model: pydantic.BaseModel) -> dict[str, Any]:
    # EnvVar values stay {"env": NAME} in the stored run config, as in Dagster:
    # the secret is read where the run executes, never written to Redis.
    out: dict[str, Any] = {}
    env_vars = model._env_vars if isinstance(model, Config) else {}
    for name in type(model).model_fields:
        value = env_vars.get(name, getattr(model, name))
        if isinstance(value, EnvVar):
            out[name] = {"env": value.env_var_name}
        elif isinstance(value, pydantic.BaseModel):
            out[name] = _unresolved_dump(value)
        else:
            out[name] = config_dict(value)
    return out


def run_config_dict(value: Any) -> dict[str, Any]:
    """Any accepted run config (None, a dict or a ``RunConfig``) as a plain dict."""
    if value is None:
        return {}
    if isinstance(value, RunConfig):
        return value.to_config_dict()
    if not isinstance(value, Mapping):
        raise DefinitionError(f"run config must be a dict or a RunConfig, got {value!r}")
    return dict(value)


_NO_DEFAULT = object()


@dataclass(frozen=True)
class Field:
    """A schema with a default, a requiredness and a description (Dagster's ``Field``)."""

    config: Any = Any
    default_value: Any = _NO_DEFAULT
    is_required: bool | None = None
    description: str | None = None

    @property
    def has_default(self) -> bool:
        return self.default_value is not _NO_DEFAULT

    @property
    def required(self) -> bool:
        if self.is_required is not None:
            return self.is_required
        return not self.has_default and not isinstance(self.config, Noneable)


@dataclass(frozen=True)
class Noneable:
    """A schema that also accepts None (an absent key counts as None)."""

    inner: Any


@dataclass(frozen=True)
class Permissive:
    """A dict that may hold keys beyond the ones its fields name."""

    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Shape:
    """A dict with exactly the keys its fields name."""

    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Array:
    """A list whose items all fit one schema."""

    inner: Any


StringSource = str
IntSource = int
BoolSource = bool


def is_config_class(schema: Any) -> bool:
    return inspect.isclass(schema) and issubclass(schema, pydantic.BaseModel)
