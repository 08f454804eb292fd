"""Assets, asset selections, asset jobs and ``materialize``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypeVar, overload

from lookout._author.asset_key import AssetKey
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

P = ParamSpec("P")
R = TypeVar("R")
CoercibleKey = AssetKey | str | Sequence[str]


class AssetsDefinition(Generic[P, R]):
    """An asset: a key, the function that computes it, and the assets it depends on."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        key_prefix: str | Sequence[str] | None = None,
        deps: Iterable[Any] = (),
        description: str | None = None,
        config_schema: Any = None,
        partitions_def: Any = None,
        group_name: str | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        prefix = [key_prefix] if isinstance(key_prefix, str) else list(key_prefix or [])
        self.key = AssetKey([*prefix, self.name])
        self.input_names = input_names(fn)
        upstream = [AssetKey(n) for n in self.input_names]
        upstream += [
            d.key if isinstance(d, AssetsDefinition) else AssetKey.from_coercible(d) for d in deps
        ]
        self.deps: tuple[AssetKey, ...] = tuple(upstream)
        self.description = description or fn.__doc__
        self.config_schema = config_schema if config_schema is not None else config_class(fn)
        self.partitions_def = partitions_def
        self.group_name = group_name
        self.takes_context = takes_context(fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = direct_call(self.fn, args, kwargs)
        return result


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


@dataclass(frozen=True)
class AssetSelection:
    """A set of assets, named by key or all of them."""

    keys_: tuple[AssetKey, ...] | None = None  # None: every asset

    @classmethod
    def all(cls) -> AssetSelection:
        return cls(None)

    @classmethod
    def keys(cls, *keys: CoercibleKey) -> AssetSelection:
        return cls(tuple(AssetKey.from_coercible(k) for k in keys))

    @classmethod
    def assets(cls, *defs: AssetsDefinition[Any, Any]) -> AssetSelection:
        return cls(tuple(d.key for d in defs))

    def resolve(self, assets: Sequence[AssetsDefinition[Any, Any]]) -> list[AssetKey]:
        known = {a.key for a in assets}
        if self.keys_ is None:
            return [a.key for a in assets]
        unknown = [k.to_user_string() for k in self.keys_ if k not in known]
        if unknown:
            raise DefinitionError(f"asset selection names unknown assets {unknown}")
        return list(self.keys_)


def _coerce_selection(selection: Any) -> AssetSelection:
    if selection is None or selection == "*":
        return AssetSelection.all()
    if isinstance(selection, AssetSelection):
        return selection
    if isinstance(selection, str):
        return AssetSelection.keys(selection)
    keys = [
        s.key if isinstance(s, AssetsDefinition) else AssetKey.from_coercible(s) for s in selection
    ]
    return AssetSelection(tuple(keys))


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
        steps = plan_assets(assets, self.selection.resolve(assets))
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
        _coerce_selection(selection),
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
    assets: Sequence[AssetsDefinition[Any, Any]],
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
    keys = (
        _coerce_selection(selection).resolve(list(assets))
        if selection is not None
        else [a.key for a in assets]
    )
    steps = plan_assets(list(assets), keys)
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
