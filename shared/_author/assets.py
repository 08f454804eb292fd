"""Assets, asset selections, asset jobs and ``materialize``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypeVar, cast, overload

from lookout._author.asset_key import AssetKey
from lookout._author.asset_selection import AssetSelection, coerce_key, coerce_selection
from lookout._author.asset_spec import AssetSpec
from lookout._author.config import run_config_dict
from lookout._author.execute import ExecuteInProcessResult, RunFailedError, Step, execute_plan
from lookout._author.ops import JobDefinition
from lookout._author.partition_requests import (
    PARTITION_SET_TAG,
    check_materialize_partition,
    partition_request,
    steps_partitions,
)
from lookout._author.partitioned_config import PartitionedConfig
from lookout._author.requests import PARTITION_TAG, RunRequest
from lookout._author.signature import input_names, takes_context
from lookout._author.step_params import config_class, direct_call
from lookout._base.errors import DefinitionError

# The name of the job a sensor that targets assets launches (``@sensor(target=...)``):
# Dagster's name for it, which its runs, tags and ``sensor.job_name`` show.
IMPLICIT_JOB_PREFIX = "__anonymous_asset_job_"
P = ParamSpec("P")
R = TypeVar("R")
CoercibleKey = AssetKey | str | Sequence[str]


def _not_computed(*_args: Any, **_kwargs: Any) -> Any:
    raise DefinitionError("an external asset (AssetSpec) is not computed by lookout")


class AssetsDefinition(Generic[P, R]):
    """An asset: a key, the function that computes it, and the assets it depends on.

    ``AssetsDefinition(specs=[AssetSpec(...), ...])`` stands for external
    assets instead: ``Definitions`` knows their keys, no job computes them.
    """

    def __init__(
        self,
        fn: Callable[P, R] | None = None,
        *,
        specs: Sequence[AssetSpec] | None = None,
        name: str | None = None,
        key_prefix: str | Sequence[str] | None = None,
        deps: Iterable[Any] = (),
        description: str | None = None,
        config_schema: Any = None,
        partitions_def: Any = None,
        group_name: str | None = None,
    ) -> None:
        self.specs: tuple[AssetSpec, ...] = tuple(specs or ())
        if fn is None:
            if not self.specs:
                raise DefinitionError("an AssetsDefinition needs a function or specs=[AssetSpec]")
            fn = cast(Callable[P, R], _not_computed)
            name = name or self.specs[0].key.parts[-1]
            key_prefix = key_prefix or list(self.specs[0].key.parts[:-1])
            deps = [*deps, *self.specs[0].deps]
        self.fn = fn
        self.name = name or fn.__name__
        prefix = [key_prefix] if isinstance(key_prefix, str) else list(key_prefix or [])
        self.key = AssetKey([*prefix, self.name])
        self.input_names = input_names(fn)
        upstream = [AssetKey(n) for n in self.input_names]
        upstream += [coerce_key(d) for d in deps]
        self.deps: tuple[AssetKey, ...] = tuple(upstream)
        self.description = description or fn.__doc__
        self.config_schema = config_schema if config_schema is not None else config_class(fn)
        self.partitions_def = partitions_def
        self.group_name = group_name
        self.takes_context = takes_context(fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = direct_call(self.fn, args, kwargs)
        return result

    @property
    def asset_deps(self) -> dict[AssetKey, set[AssetKey]]:
        """``{key: upstream keys}`` (Dagster's ``asset_deps``)."""
        if self.specs:
            return {s.key: set(s.deps) for s in self.specs}
        return {self.key: set(self.deps)}

    @property
    def keys(self) -> set[AssetKey]:
        return {s.key for s in self.specs} if self.specs else {self.key}


@overload
def asset(fn: Callable[P, R], /) -> AssetsDefinition[P, R]: ...


@overload
def asset(
    *,
    name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    deps: Iterable[Any] = (),
    description: str | None = None,
    config_schema: Any = None,
    partitions_def: Any = None,
    group_name: str | None = None,
) -> Callable[[Callable[P, R]], AssetsDefinition[P, R]]: ...


def asset(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    deps: Iterable[Any] = (),
    description: str | None = None,
    config_schema: Any = None,
    partitions_def: Any = None,
    group_name: str | None = None,
) -> AssetsDefinition[P, R] | Callable[[Callable[P, R]], AssetsDefinition[P, R]]:
    """Define an asset: ``@asset`` or ``@asset(deps=[...], key_prefix=...)``."""

    def wrap(f: Callable[P, R]) -> AssetsDefinition[P, R]:
        return AssetsDefinition(
            f,
            name=name,
            key_prefix=key_prefix,
            deps=deps,
            description=description,
            config_schema=config_schema,
            partitions_def=partitions_def,
            group_name=group_name,
        )

    return wrap(fn) if fn is not None else wrap


def plan_assets(
    assets: Sequence[AssetsDefinition[Any, Any]], keys: Iterable[AssetKey]
) -> list[Step]:
    """Steps for ``keys`` in dependency order; inputs come from upstream steps in the plan."""
    by_key = {a.key: a for a in assets}
    wanted = set(keys)
    ordered: list[AssetsDefinition[Any, Any]] = []
    state: dict[AssetKey, str] = {}

    def visit(key: AssetKey, path: tuple[str, ...]) -> None:
        if state.get(key) == "done":
            return
        if state.get(key) == "visiting":
            raise DefinitionError(
                f"assets form a cycle: {' -> '.join((*path, key.to_user_string()))}"
            )
        state[key] = "visiting"
        for dep in by_key[key].deps:
            if dep in wanted and dep in by_key:
                visit(dep, (*path, key.to_user_string()))
        state[key] = "done"
        ordered.append(by_key[key])

    for key in sorted(wanted, key=lambda k: k.path):
        visit(key, ())
    steps = []
    for a in ordered:
        inputs = {n: "/".join(AssetKey(n).path) for n in a.input_names}
        absent = [n for n in inputs if AssetKey(n) not in wanted]
        if absent:
            raise DefinitionError(
                f"asset '{a.key.to_user_string()}' takes {absent} as inputs, but this run "
                "does not materialize them; select them too, or use deps= instead"
            )
        steps.append(
            Step(
                a.key.to_user_string(),
                a.fn,
                a.takes_context,
                inputs,
                a.key,
                a.config_schema,
                a.partitions_def,
            )
        )
    return steps


@dataclass(frozen=True)
class UnresolvedAssetJobDefinition:
    """A job over a selection of assets; it becomes a ``JobDefinition`` in ``Definitions``."""

    name: str
    selection: AssetSelection
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    partitions_def: Any = None
    partitioned_config: PartitionedConfig | None = None

    def resolve(self, assets: Sequence[AssetsDefinition[Any, Any]]) -> JobDefinition:
        try:
            steps = plan_assets(assets, self.selection.resolve(assets))
        except DefinitionError as exc:
            owner = (
                f"sensor '{self.name.removeprefix(IMPLICIT_JOB_PREFIX)}'"
                if self.name.startswith(IMPLICIT_JOB_PREFIX)
                else f"job '{self.name}'"
            )
            raise DefinitionError(f"{owner}: {exc}") from None
        return JobDefinition(
            self.name,
            tuple(steps),
            self.description,
            dict(self.tags),
            run_config_dict(self.config),
            self.partitions_def or steps_partitions(self.name, steps),
            self.partitioned_config,
        )

    def run_request_for_partition(
        self,
        partition_key: str,
        run_key: str | None = None,
        tags: Mapping[str, str] | None = None,
        run_config: Mapping[str, Any] | None = None,
    ) -> RunRequest:
        """A RunRequest of this job for one partition."""
        if self.partitions_def is not None:
            return partition_request(self, partition_key, run_key, tags, run_config)
        return RunRequest(
            run_key=run_key,
            run_config=run_config_dict(run_config),
            tags={
                **(tags or {}),
                PARTITION_TAG: partition_key,
                PARTITION_SET_TAG: f"{self.name}_partition_set",
            },
            job_name=self.name,
            partition_key=partition_key,
        )


def define_asset_job(
    name: str,
    selection: Any = None,
    config: Any = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    partitions_def: Any = None,
) -> UnresolvedAssetJobDefinition:
    """A job that materializes a selection of assets (``"*"`` or None: all of them)."""
    partitioned = config if isinstance(config, PartitionedConfig) else None
    return UnresolvedAssetJobDefinition(
        name,
        coerce_selection(selection),
        description,
        dict(tags or {}),
        {} if partitioned else run_config_dict(config),
        partitions_def
        or (partitioned.partitions_def if partitioned else None)
        or selected_partitions(name, selection),
        partitioned,
    )


def selected_partitions(name: str, selection: Any) -> Any:
    """The partitions of the asset objects a selection lists, known before resolution."""
    if isinstance(selection, AssetsDefinition):
        selection = [selection]
    if isinstance(selection, str) or not isinstance(selection, Sequence):
        return None
    defs = [s for s in selection if isinstance(s, AssetsDefinition)]
    return steps_partitions(name, defs)


def materialize(
    assets: Sequence[Any],
    run_config: Any = None,
    *,
    partition_key: str | None = None,
    tags: Mapping[str, str] | None = None,
    raise_on_error: bool = True,
    resources: Mapping[str, Any] | None = None,
    instance: Any = None,
    selection: Any = None,
) -> ExecuteInProcessResult:
    """Materialize ``assets`` here, in this process, in dependency order.

    With ``instance`` the run is recorded there, as ``execute_in_process`` does.
    """
    run_tags = dict(tags or {})
    computed = [a for a in assets if isinstance(a, AssetsDefinition) and not a.specs]
    keys = [a.key for a in computed]
    if selection is not None:
        keys = coerce_selection(selection).resolve(computed)
    steps = plan_assets(computed, keys)
    if partition_key is not None:
        check_materialize_partition(steps, partition_key, instance)
        run_tags[PARTITION_TAG] = partition_key
    result = execute_plan(
        "__ephemeral_asset_job__",
        steps,
        run_config=run_config,
        tags=run_tags,
        raise_on_error=raise_on_error and instance is None,
        resources=resources,
    )
    if instance is not None:
        instance.add_run_result(result)
        if raise_on_error and not result.success:
            raise RunFailedError(result.error or f"run {result.run_id} failed")
    return result
