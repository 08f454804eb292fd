"""Resources: ``ConfigurableResource``, the ``resource`` decorator, and their set-up scope.

A ``ResourceScope`` builds each resource the first time something asks for it
(a sensor parameter, an op's ``context.resources.x``), at most once per scope,
and tears the built ones down, newest first, when it closes.  A run owns one
scope (so ``setup_for_execution`` and ``teardown_after_execution`` run once
per run); a sensor tick owns one too.
"""

from __future__ import annotations

import abc
import contextlib
import inspect
import logging
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, Generic, TypeVar, overload

from lookout._author.config import Config, EnvVar, IntEnvVar
from lookout._author.config_check import config_errors, resolve_config
from lookout._base.errors import DefinitionError

T = TypeVar("T")
ResourceParam = Annotated[T, "resource_param"]
# A resource field of another resource (the one it depends on); pydantic checks its type.
ResourceDependency = Annotated[T, "resource_dependency"]


class ResourceInitError(DefinitionError):
    """A resource could not be built or set up; the message names it and says why."""


class InitResourceContext:
    """What a resource's set-up sees: its config, the other resources, a logger."""

    def __init__(
        self,
        resource_config: Any = None,
        resources: Any = None,
        instance: Any = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.resource_config = resource_config
        self.resources = resources
        self.instance = instance
        self.log = log or logging.getLogger("lookout.resource")


def build_init_resource_context(
    config: Any = None, resources: Mapping[str, Any] | None = None, instance: Any = None
) -> InitResourceContext:
    """A context to call a ``@resource`` function or ``setup_for_execution`` in a test."""
    return InitResourceContext(config, ResourceScope(resources or {}).namespace(), instance)


class ConfigurableResourceFactory(Config, Generic[T]):
    """Config fields that build some other value, the resource (``create_resource``)."""

    @abc.abstractmethod
    def create_resource(self, context: InitResourceContext) -> T:
        """The resource these config fields build (each subclass defines it)."""

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Called once per run (or tick), before the resource is first used."""

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        """Called once per run (or tick), after the last use."""

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[Any]:
        self.setup_for_execution(context)
        try:
            yield self.create_resource(context)
        finally:
            self.teardown_after_execution(context)

    @classmethod
    def configure_at_launch(cls, **defaults: Any) -> PartialResource:
        """A resource whose config comes from each run's config (``resources.KEY.config``)."""
        return PartialResource(cls, defaults)


class ConfigurableResource(ConfigurableResourceFactory[Any]):
    """A resource whose fields are its config; override set-up and tear-down as needed."""

    def create_resource(self, context: InitResourceContext) -> Any:
        return self

    def get_resource_context(self) -> InitResourceContext:
        return InitResourceContext()


class PartialResource:
    """A resource class configured at launch: its fields come from the run config."""

    def __init__(self, resource_cls: type[ConfigurableResourceFactory[Any]], defaults: Any) -> None:
        self.resource_cls = resource_cls
        self.defaults = dict(defaults)

    def __repr__(self) -> str:
        return f"{self.resource_cls.__name__}.configure_at_launch()"


class ResourceDefinition:
    """A resource built by a function of its init context (``@resource``)."""

    def __init__(
        self,
        resource_fn: Callable[..., Any],
        config_schema: Any = None,
        description: str | None = None,
        required_resource_keys: Any = None,
    ) -> None:
        self.resource_fn = resource_fn
        self.config_schema = config_schema
        self.description = description
        self.required_resource_keys = set(required_resource_keys or ())

    @staticmethod
    def hardcoded_resource(value: Any, description: str | None = None) -> ResourceDefinition:
        return ResourceDefinition(lambda _context: value, description=description)

    @staticmethod
    def none_resource(description: str | None = None) -> ResourceDefinition:
        return ResourceDefinition.hardcoded_resource(None, description)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resource_fn(*args, **kwargs)


@overload
def resource(fn: Callable[..., Any], /) -> ResourceDefinition: ...


@overload
def resource(
    *,
    config_schema: Any = None,
    description: str | None = None,
    required_resource_keys: Any = None,
) -> Callable[[Callable[..., Any]], ResourceDefinition]: ...


def resource(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    config_schema: Any = None,
    description: str | None = None,
    required_resource_keys: Any = None,
) -> ResourceDefinition | Callable[[Callable[..., Any]], ResourceDefinition]:
    """Define a resource from a function of its init context (it may ``yield`` its value)."""

    def wrap(f: Callable[..., Any]) -> ResourceDefinition:
        return ResourceDefinition(
            f, config_schema, description or f.__doc__, required_resource_keys
        )

    return wrap(fn) if fn is not None else wrap


def _resolved_fields(
    res: ConfigurableResourceFactory[Any], overrides: Mapping[str, Any], key: str
) -> Any:
    update: dict[str, Any] = {}
    for name in type(res).model_fields:
        value = overrides.get(name, res.env_var(name) or getattr(res, name))
        if isinstance(value, Mapping) and set(value) == {"env"}:
            value = IntEnvVar(value["env"]) if _int_field(res, name) else EnvVar(value["env"])
        if isinstance(value, EnvVar):
            env = value.get_value()
            if env is None:
                raise ResourceInitError(
                    f"resource '{key}': environment variable '{value.env_var_name}' "
                    f"(field '{name}') is not set"
                )
            value = int(env) if isinstance(value, IntEnvVar) else env
        if name in overrides or res.env_var(name) is not None:
            update[name] = value
    return res.model_copy(update=update)


def _int_field(res: ConfigurableResourceFactory[Any], name: str) -> bool:
    return type(res).model_fields[name].annotation is int


class ResourceScope:
    """Builds resources on first use, once each, and tears them down on ``close``."""

    def __init__(
        self,
        defs: Mapping[str, Any],
        run_config: Mapping[str, Any] | None = None,
        instance: Any = None,
    ) -> None:
        self.defs = dict(defs)
        self._config = dict((run_config or {}).get("resources") or {})
        self._instance = instance
        self._built: dict[str, Any] = {}
        # Made when a resource first needs tearing down: a scope is opened for
        # every sensor tick, and most ticks build no resource at all.
        self._exits: contextlib.ExitStack | None = None

    @property
    def _stack(self) -> contextlib.ExitStack:
        if self._exits is None:
            self._exits = contextlib.ExitStack()
        return self._exits

    def __contains__(self, key: str) -> bool:
        return key in self.defs

    def get(self, key: str) -> Any:
        if key in self._built:
            return self._built[key]
        if key not in self.defs:
            raise ResourceInitError(
                f"no resource named '{key}' (known: {', '.join(sorted(self.defs)) or 'none'})"
            )
        try:
            value = self._build(key, self.defs[key])
        except ResourceInitError:
            raise
        except Exception as exc:
            raise ResourceInitError(
                f"resource '{key}' failed to initialize: {type(exc).__name__}: {exc}"
            ) from exc
        self._built[key] = value
        return value

    def _build(self, key: str, definition: Any) -> Any:
        node = self._config.get(key) or {}
        given = node.get("config") if isinstance(node, Mapping) else None
        if isinstance(definition, PartialResource):
            definition = self._launch_configured(key, definition, given)
        if isinstance(definition, ConfigurableResourceFactory):
            overrides = given if isinstance(given, Mapping) else {}
            errors = config_errors(
                type(definition),
                {**_field_values(definition), **overrides},
                f"resources.{key}.config",
            )
            if errors:
                raise ResourceInitError(f"resource '{key}' config is invalid: {'; '.join(errors)}")
            res = self._with_nested(key, _resolved_fields(definition, overrides, key))
            return self._stack.enter_context(res.yield_for_execution(self._context(None)))
        if isinstance(definition, ResourceDefinition):
            errors = config_errors(definition.config_schema, given, f"resources.{key}.config")
            if errors:
                raise ResourceInitError(f"resource '{key}' config is invalid: {'; '.join(errors)}")
            config = resolve_config(definition.config_schema, given, f"resources.{key}.config")
            return self._call(definition, self._context(config))
        return definition

    def _with_nested(
        self, key: str, res: ConfigurableResourceFactory[Any]
    ) -> ConfigurableResourceFactory[Any]:
        """The resource with the resources in its fields set up first, as Dagster does."""
        nested = {
            name: value
            for name in type(res).model_fields
            if isinstance(value := getattr(res, name), ConfigurableResourceFactory)
        }
        built = {
            name: self._stack.enter_context(
                self._with_nested(key, _resolved_fields(value, {}, key)).yield_for_execution(
                    self._context(None)
                )
            )
            for name, value in nested.items()
        }
        return res.model_copy(update=built) if built else res

    def _launch_configured(self, key: str, partial: PartialResource, given: Any) -> Any:
        path = f"resources.{key}.config"
        config = {**partial.defaults, **(given if isinstance(given, Mapping) else {})}
        errors = config_errors(partial.resource_cls, config, path)
        if errors:
            raise ResourceInitError(f"resource '{key}' config is invalid: {'; '.join(errors)}")
        return partial.resource_cls.model_validate(
            resolve_config(partial.resource_cls, config, path)
        )

    def _call(self, definition: ResourceDefinition, context: InitResourceContext) -> Any:
        fn = definition.resource_fn
        takes_context = bool(inspect.signature(fn).parameters)
        value = fn(context) if takes_context else fn()
        if inspect.isgenerator(value):
            return self._stack.enter_context(contextlib.contextmanager(lambda: value)())
        if isinstance(value, contextlib.AbstractContextManager):
            return self._stack.enter_context(value)
        return value

    def _context(self, config: Any) -> InitResourceContext:
        return InitResourceContext(config, self.namespace(), self._instance)

    def namespace(self) -> Resources:
        return Resources(self)

    def close(self) -> None:
        exits, self._exits = self._exits, None
        if exits is not None:
            exits.close()
        self._built.clear()


def _field_values(res: ConfigurableResourceFactory[Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in type(res).model_fields:
        env = res.env_var(name)
        values[name] = {"env": env.env_var_name} if env is not None else getattr(res, name)
    return values


class Resources:
    """``context.resources``: each resource by attribute, built on first access."""

    def __init__(self, scope: ResourceScope) -> None:
        self._scope = scope

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._scope:
            raise AttributeError(f"no resource named '{name}'")
        return self._scope.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._scope

    @property
    def original_resource_dict(self) -> dict[str, Any]:
        return dict(self._scope.defs)


@contextlib.contextmanager
def build_resources(
    resources: Mapping[str, Any],
    instance: Any = None,
    resource_config: Mapping[str, Any] | None = None,
) -> Iterator[Resources]:
    """Build every resource now, yield them by attribute, tear them down on exit."""
    # Dagster's shape: {"key": {"config": {...}}}, as in a run config's resources section.
    scope = ResourceScope(resources, {"resources": dict(resource_config or {})}, instance)
    try:
        for key in resources:
            scope.get(key)
        yield scope.namespace()
    finally:
        scope.close()


def type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:
        return dict(getattr(fn, "__annotations__", {}))


def is_resource_annotation(annotation: Any) -> bool:
    """An op or asset parameter annotated as a resource, not an input."""
    if typing.get_origin(annotation) is Annotated:
        return "resource_param" in typing.get_args(annotation)[1:]
    return inspect.isclass(annotation) and issubclass(annotation, ConfigurableResourceFactory)


def resource_params(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The parameters of an op or asset that receive resources."""
    hints = type_hints(fn)
    names = inspect.signature(fn).parameters
    return tuple(n for n in names if is_resource_annotation(hints.get(n)))


def resource_scope(resources: Any, instance: Any = None) -> ResourceScope | None:
    """A scope over a mapping of resource definitions; None for anything else."""
    # A dict first: the check against the Mapping ABC costs more, on every tick.
    if type(resources) is dict or isinstance(resources, Mapping):
        return ResourceScope(resources, instance=instance)
    return None
