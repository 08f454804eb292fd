"""``validate_run_config``: check a run's config against its job's op config schemas.

Dagster's sensor-testing example validates each ``RunRequest``'s config this
way.  The schemas understood are the plain-Python ones: a type (``str``,
``int``, ``float``, ``bool``, ``list``, ``dict``), a dict of schemas (every
key required, no other key allowed), and a one-element list ``[schema]``.
Any other schema object (Dagster's ``Field``, ``Noneable``...) is not
interpreted: the op's config is then only required to be present.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lookout._author.ops import JobDefinition
from lookout._base.errors import DefinitionError

# The top-level sections of a Dagster run config; only ``ops`` is read here.
_SECTIONS = frozenset({"ops", "execution", "loggers", "resources"})
_SCALARS: dict[type, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (float, int),
    bool: (bool,),
    list: (list, tuple),
    dict: (Mapping,),
}


def _type_errors(schema: type, value: Any, path: str) -> list[str]:
    accepted = _SCALARS[schema]
    # bool is an int in Python, not in a config schema.
    if isinstance(value, bool) and schema is not bool:
        accepted = ()
    if isinstance(value, accepted):
        return []
    return [f"{path}: expected {schema.__name__}, got {value!r}"]


def _mapping_errors(schema: Mapping[str, Any], value: Any, path: str) -> list[str]:
    if not isinstance(value, Mapping):
        return [f"{path}: expected a dict with keys {sorted(schema)}, got {value!r}"]
    errors = [f"{path}: missing required key '{k}'" for k in schema if k not in value]
    errors += [f"{path}: unexpected key '{k}'" for k in value if k not in schema]
    for key, sub in schema.items():
        if key in value:
            errors += schema_errors(sub, value[key], f"{path}.{key}")
    return errors


def schema_errors(schema: Any, value: Any, path: str) -> list[str]:
    """Every way ``value`` fails ``schema``; empty when it fits."""
    if schema is Any or schema is None:
        return []
    if isinstance(schema, type) and schema in _SCALARS:
        return _type_errors(schema, value, path)
    if isinstance(schema, Mapping):
        return _mapping_errors(schema, value, path)
    if isinstance(schema, list) and len(schema) == 1:
        if not isinstance(value, list | tuple):
            return [f"{path}: expected a list, got {value!r}"]
        return [e for i, v in enumerate(value) for e in schema_errors(schema[0], v, f"{path}[{i}]")]
    return []  # a schema object this module does not interpret


def _op_errors(job: JobDefinition, ops: Any) -> list[str]:
    if not isinstance(ops, Mapping):
        return [f"ops: expected a dict of op name to op config, got {ops!r}"]
    steps = {step.name: step for step in job.steps}
    errors = [
        f"ops.{name}: job '{job.name}' has no op '{name}'" for name in ops if name not in steps
    ]
    for name, step in steps.items():
        node = ops.get(name)
        if step.config_schema is None:
            continue
        if not isinstance(node, Mapping) or "config" not in node:
            errors.append(f"ops.{name}: missing required config (ops.{name}.config)")
            continue
        errors += schema_errors(step.config_schema, node["config"], f"ops.{name}.config")
    return errors


def validate_run_config(
    job_def: JobDefinition, run_config: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Check ``run_config`` against ``job_def``; return the config the run would get.

    Raises ``DefinitionError`` listing every problem.  The returned dict
    always has an ``ops`` section, so it is truthy, as Dagster's is.
    """
    if not isinstance(job_def, JobDefinition):
        raise DefinitionError(
            f"validate_run_config needs a job, got {job_def!r}; an asset job becomes one "
            "through Definitions(...).get_job(name)"
        )
    config = {} if run_config is None else run_config
    if not isinstance(config, Mapping):
        raise DefinitionError(f"run config must be a dict, got {config!r}")
    errors = [f"unexpected top-level key '{k}'" for k in config if k not in _SECTIONS]
    errors += _op_errors(job_def, config.get("ops") or {})
    if errors:
        raise DefinitionError(
            f"run config for job '{job_def.name}' is invalid: " + "; ".join(errors)
        )
    return {**config, "ops": dict(config.get("ops") or {})}
