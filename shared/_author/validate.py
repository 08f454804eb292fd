"""``validate_run_config``: check a run's config against its job's op and resource schemas.

Dagster's testing examples validate each ``RunRequest``'s config this way.
Schemas are read by ``config_check``: ``Config`` classes, plain types, dicts,
``[schema]``, ``Field``, ``Noneable``, ``Permissive`` and ``Shape``.  Each
problem names its path (``ops.my_op.config.count``), so the op and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lookout._author.config import run_config_dict
from lookout._author.config_check import config_errors, required, resolve_config
from lookout._author.ops import JobDefinition
from lookout._author.resources import ConfigurableResource, PartialResource, ResourceDefinition
from lookout._base.errors import DefinitionError

# The top-level sections of a Dagster run config.
_SECTIONS = frozenset({"ops", "execution", "loggers", "resources"})


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
            if required(step.config_schema):
                errors.append(f"ops.{name}: missing required config (ops.{name}.config)")
            continue
        errors += config_errors(step.config_schema, node["config"], f"ops.{name}.config")
    return errors


def _resource_schema(definition: Any) -> Any:
    if isinstance(definition, PartialResource):
        return definition.resource_cls
    if isinstance(definition, ConfigurableResource):
        return None  # configured in Python already; run config may override fields
    if isinstance(definition, ResourceDefinition):
        return definition.config_schema
    return None


def _resource_errors(job: JobDefinition, resources: Any) -> list[str]:
    if not isinstance(resources, Mapping):
        return [f"resources: expected a dict of resource key to config, got {resources!r}"]
    defs: dict[str, Any] = {}
    for step in job.steps:
        defs.update(step.resource_defs)
    errors = []
    for key, node in resources.items():
        if defs and key not in defs:
            errors.append(f"resources.{key}: job '{job.name}' has no resource '{key}'")
            continue
        schema = _resource_schema(defs.get(key))
        config = node.get("config") if isinstance(node, Mapping) else None
        if schema is not None:
            errors += config_errors(schema, config, f"resources.{key}.config")
        elif isinstance(defs.get(key), ConfigurableResource) and isinstance(config, Mapping):
            fields = type(defs[key]).model_fields
            errors += [
                f"resources.{key}.config: unexpected key '{k}'" for k in config if k not in fields
            ]
    return errors


def _resolved_ops(job: JobDefinition, ops: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(ops)
    for step in job.steps:
        if step.config_schema is None:
            continue
        node = ops.get(step.name)
        given = node.get("config") if isinstance(node, Mapping) else None
        config = resolve_config(step.config_schema, given, f"ops.{step.name}.config")
        out[step.name] = {**(node or {}), "config": config}
    return out


def validate_run_config(job_def: JobDefinition, run_config: Any = None) -> dict[str, Any]:
    """Check ``run_config`` against ``job_def``; return the config the run would get.

    Raises ``DefinitionError`` listing every problem.  The returned dict
    always has an ``ops`` section, so it is truthy, as Dagster's is.
    """
    if not isinstance(job_def, JobDefinition):
        raise DefinitionError(
            f"validate_run_config needs a job, got {job_def!r}; an asset job becomes one "
            "through Definitions(...).get_job(name)"
        )
    config = run_config_dict(run_config)
    errors = [f"unexpected top-level key '{k}'" for k in config if k not in _SECTIONS]
    errors += _op_errors(job_def, config.get("ops") or {})
    errors += _resource_errors(job_def, config.get("resources") or {})
    if errors:
        raise DefinitionError(
            f"run config for job '{job_def.name}' is invalid: " + "; ".join(errors)
        )
    return {**config, "ops": _resolved_ops(job_def, config.get("ops") or {})}
