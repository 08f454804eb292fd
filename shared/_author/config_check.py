"""Check a config value against a schema, and fill in the schema's defaults.

``config_errors`` lists every way a value fails (each message starts with
its path, ``ops.my_op.config.count``); ``resolve_config`` gives the value a
step sees, defaults applied and ``{"env": NAME}`` read from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pydantic

from lookout._author.config import (
    Array,
    Field,
    Noneable,
    Permissive,
    Shape,
    config_dict,
    is_config_class,
)
from lookout._base.errors import DefinitionError

_SCALARS: dict[type, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (float, int),
    bool: (bool,),
    list: (list, tuple),
    dict: (Mapping,),
}


def _is_env(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"env"} and isinstance(value["env"], str)


def read_env(value: Any, path: str) -> Any:
    """``{"env": NAME}`` replaced by the variable's value; other values unchanged."""
    if not _is_env(value):
        return value
    name = value["env"]
    if name not in os.environ:
        raise DefinitionError(f"{path}: environment variable '{name}' is not set")
    return os.environ[name]


def _scalar_errors(schema: type, value: Any, path: str) -> list[str]:
    if _is_env(value) and schema in (str, int, bool, float):
        return []
    accepted = _SCALARS[schema]
    # bool is an int in Python, not in a config schema.
    if isinstance(value, bool) and schema is not bool:
        accepted = ()
    if isinstance(value, accepted):
        return []
    return [f"{path}: expected {schema.__name__}, got {value!r}"]


def _fields_errors(fields: Mapping[str, Any], value: Any, path: str, extra_ok: bool) -> list[str]:
    if not isinstance(value, Mapping):
        return [f"{path}: expected a dict with keys {sorted(fields)}, got {value!r}"]
    errors = [
        f"{path}: missing required key '{k}'"
        for k, sub in fields.items()
        if k not in value and required(sub)
    ]
    if not extra_ok:
        errors += [f"{path}: unexpected key '{k}'" for k in value if k not in fields]
    for key, sub in fields.items():
        if key in value:
            errors += config_errors(sub, value[key], f"{path}.{key}")
    return errors


def required(schema: Any) -> bool:
    """Whether a value must be given for ``schema`` (it has a required field)."""
    if isinstance(schema, Field):
        return schema.required
    if isinstance(schema, Noneable):
        return False
    if is_config_class(schema):
        return any(f.is_required() for f in schema.model_fields.values())
    if isinstance(schema, Mapping | Shape | Permissive):
        fields = schema.fields if isinstance(schema, Shape | Permissive) else schema
        return any(required(s) for s in fields.values())
    return True


def _model_errors(schema: type[pydantic.BaseModel], value: Any, path: str) -> list[str]:
    if isinstance(value, schema):
        return []
    if not isinstance(value, Mapping):
        return [f"{path}: expected a dict for {schema.__name__}, got {value!r}"]
    known = {f.alias or n for n, f in schema.model_fields.items()} | set(schema.model_fields)
    errors = [f"{path}: unexpected key '{k}'" for k in value if k not in known]
    env_free = {k: v for k, v in value.items() if not _is_env(v)}
    try:
        schema.model_validate(env_free, strict=True)
    except pydantic.ValidationError as exc:
        for err in exc.errors():
            where = ".".join([path, *(str(p) for p in err["loc"])])
            if err["type"] == "missing" and err["loc"] and err["loc"][0] in value:
                continue  # given as {"env": NAME}
            if err["type"] == "missing":
                errors.append(f"{where}: missing required key")
            else:
                errors.append(f"{where}: {err['msg']}, got {err.get('input')!r}")
    return errors


def config_errors(schema: Any, value: Any, path: str) -> list[str]:
    """Every way ``value`` fails ``schema``; empty when it fits."""
    if isinstance(schema, Field):
        return config_errors(schema.config, value, path)
    if isinstance(schema, Noneable):
        return [] if value is None else config_errors(schema.inner, value, path)
    return _plain_errors(schema, value, path)


def _plain_errors(schema: Any, value: Any, path: str) -> list[str]:
    if is_config_class(schema):
        return _model_errors(schema, value, path)
    if isinstance(schema, type) and schema in _SCALARS:
        return _scalar_errors(schema, value, path)
    fields = _fields_of(schema)
    if fields is not None:
        return _fields_errors(fields, value, path, extra_ok=isinstance(schema, Permissive))
    inner = schema.inner if isinstance(schema, Array) else _list_inner(schema)
    if inner is None:
        return []  # Any, None, or a schema object this module does not interpret
    if not isinstance(value, list | tuple):
        return [f"{path}: expected a list, got {value!r}"]
    return [e for i, v in enumerate(value) for e in config_errors(inner, v, f"{path}[{i}]")]


def _list_inner(schema: Any) -> Any:
    if isinstance(schema, list) and len(schema) == 1:
        return schema[0]
    return None


def resolve_config(schema: Any, value: Any, path: str) -> Any:
    """``value`` with the schema's defaults filled in and ``{"env": ...}`` read."""
    value = read_env(config_dict(value), path)
    if isinstance(schema, Field):
        if value is None and schema.has_default:
            value = schema.default_value
        return resolve_config(schema.config, value, path)
    if isinstance(schema, Noneable):
        return None if value is None else resolve_config(schema.inner, value, path)
    if is_config_class(schema):
        given = value if isinstance(value, Mapping) else {}
        resolved = {k: read_env(v, f"{path}.{k}") for k, v in given.items()}
        return schema.model_validate(resolved).model_dump(mode="python")
    fields = _fields_of(schema)
    if fields is None:
        return value
    given = dict(value) if isinstance(value, Mapping) else {}
    for key, sub in fields.items():
        if key in given or _filled_when_absent(sub):
            given[key] = resolve_config(sub, given.get(key), f"{path}.{key}")
    return given


def _filled_when_absent(schema: Any) -> bool:
    """Dagster fills an absent key with its default, None when Noneable, or a dict of defaults."""
    if isinstance(schema, Field):
        return schema.has_default or _filled_when_absent(schema.config)
    if isinstance(schema, Noneable):
        return True
    if is_config_class(schema) or _fields_of(schema) is not None:
        return not required(schema)
    return False


def _fields_of(schema: Any) -> Mapping[str, Any] | None:
    if isinstance(schema, Shape | Permissive):
        return schema.fields
    if isinstance(schema, Mapping):
        return schema
    return None
