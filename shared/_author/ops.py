"""Ops and op jobs: a job's body composes ops, and outputs pass on as inputs.

The body of ``@job`` runs once, when the job is defined, with op calls
recorded instead of executed; the recording is the job's plan.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from lookout._author.asset_selection import coerce_key
from lookout._author.config import run_config_dict
from lookout._author.execute import (
    ExecuteInProcessResult,
    RunFailedError,
    Step,
    bind_resources,
    execute_plan,
)
from lookout._author.partition_requests import partition_request
from lookout._author.partitioned_config import PartitionedConfig
from lookout._author.requests import PARTITION_TAG, RunRequest
from lookout._author.signature import input_names, takes_context
from lookout._author.step_params import config_class, direct_call
from lookout._base.errors import DefinitionError

if TYPE_CHECKING:
    from lookout._author.instance import DagsterInstance

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class _Output:
    """What an op call returns while a job body is being recorded."""

    step_name: str


class _Recorder:
    def __init__(self, job_name: str) -> None:
        self.job_name = job_name
        self.steps: list[Step] = []
        self._names: set[str] = set()

    def add(
        self, op: OpDefinition[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _Output:
        name, n = op.name, 1
        while name in self._names:  # the same op twice in one job: op, op_2, op_3...
            n += 1
            name = f"{op.name}_{n}"
        self._names.add(name)
        bound = dict(zip(op.input_names, args, strict=False)) | kwargs
        inputs: dict[str, str] = {}
        for param, value in bound.items():
            if not isinstance(value, _Output):
                raise DefinitionError(
                    f"job '{self.job_name}': input '{param}' of op '{op.name}' must be "
                    f"the output of another op, got {value!r}"
                )
            inputs[param] = value.step_name
        missing = set(op.input_names) - set(inputs)
        if missing:
            raise DefinitionError(
                f"job '{self.job_name}': op '{op.name}' is missing inputs {sorted(missing)}"
            )
        self.steps.append(Step(name, op.fn, op.takes_context, inputs, None, op.config_schema))
        return _Output(name)


# The recorder of the job body being defined right now, if any.  A context
# variable rather than a global so that definitions in threads do not mix.
_recording: contextvars.ContextVar[_Recorder | None] = contextvars.ContextVar(
    "lookout_job_recording", default=None
)


class OpDefinition(Generic[P, R]):
    """A unit of computation inside a job; called outside a job, it is the plain function."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        config_schema: Any = None,
        description: str | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.config_schema = config_schema if config_schema is not None else config_class(fn)
        self.description = description or fn.__doc__
        self.takes_context = takes_context(fn)
        self.input_names = input_names(fn)

    # Untyped on purpose: inside a job body an op is called without its context
    # and with other ops' outputs, so its own signature does not apply there.
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        recorder = _recording.get()
        if recorder is None:
            return direct_call(self.fn, args, kwargs)
        return recorder.add(self, args, kwargs)


@overload
def op(fn: Callable[P, R], /) -> OpDefinition[P, R]: ...


@overload
def op(
    *,
    name: str | None = None,
    config_schema: Any = None,
    description: str | None = None,
    required_resource_keys: Any = None,
) -> Callable[[Callable[P, R]], OpDefinition[P, R]]: ...


def op(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    config_schema: Any = None,
    description: str | None = None,
    required_resource_keys: Any = None,
) -> OpDefinition[P, R] | Callable[[Callable[P, R]], OpDefinition[P, R]]:
    """Define an op: ``@op`` or ``@op(config_schema={"filename": str})``."""
    del required_resource_keys  # resources are built on first use: the keys are not needed

    def wrap(f: Callable[P, R]) -> OpDefinition[P, R]:
        return OpDefinition(f, name=name, config_schema=config_schema, description=description)

    return wrap(fn) if fn is not None else wrap


@dataclass(frozen=True)
class JobDefinition:
    """A named plan of steps that a run executes."""

    name: str
    steps: tuple[Step, ...]
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    partitions_def: Any = None
    partitioned_config: PartitionedConfig | None = None

    def execute_in_process(
        self,
        run_config: Any = None,
        *,
        raise_on_error: bool = True,
        tags: Mapping[str, str] | None = None,
        run_id: str | None = None,
        instance: DagsterInstance | None = None,
        asset_selection: Sequence[Any] | None = None,
        resources: Mapping[str, Any] | None = None,
        partition_key: str | None = None,
    ) -> ExecuteInProcessResult:
        """Run the job here and now, in this process.

        With ``instance`` (``DagsterInstance.ephemeral()``) the run and its
        events are recorded there, failed runs too, before any error is raised.
        ``asset_selection`` (asset keys) runs only the steps of those assets.
        """
        run_tags = {**self.tags, **(tags or {})}
        config = run_config_dict(run_config) or self.config
        if partition_key is not None:
            request = partition_request(
                self, partition_key, run_config=config, dynamic_partitions_store=instance
            )
            run_tags[PARTITION_TAG] = partition_key
            config = request.run_config
        result = execute_plan(
            self.name,
            self._selected(asset_selection),
            run_config=config,
            tags=run_tags,
            run_id=run_id,
            raise_on_error=raise_on_error and instance is None,
            resources=resources,
        )
        if instance is not None:
            instance.add_run_result(result)
            if raise_on_error and not result.success:
                raise RunFailedError(result.error or f"run {result.run_id} failed")
        return result

    def _selected(self, asset_selection: Sequence[Any] | None) -> tuple[Step, ...]:
        if asset_selection is None:
            return self.steps
        wanted = {coerce_key(k) for k in asset_selection}
        steps = tuple(s for s in self.steps if s.asset_key in wanted)
        missing = wanted - {s.asset_key for s in steps}
        if missing:
            raise DefinitionError(
                f"job '{self.name}' does not materialize "
                f"{sorted(k.to_user_string() for k in missing)}"
            )
        return steps

    def run_request_for_partition(
        self,
        partition_key: str,
        run_key: str | None = None,
        tags: Mapping[str, str] | None = None,
        run_config: Any = None,
        current_time: Any = None,
        dynamic_partitions_store: Any = None,
    ) -> RunRequest:
        """A RunRequest of this job for one of its partitions (an unknown key is an error)."""
        return partition_request(
            self, partition_key, run_key, tags, run_config, current_time, dynamic_partitions_store
        )


@overload
def job(fn: Callable[[], Any], /) -> JobDefinition: ...


@overload
def job(
    *,
    name: str | None = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    config: Any = None,
    partitions_def: Any = None,
    resource_defs: Mapping[str, Any] | None = None,
) -> Callable[[Callable[[], Any]], JobDefinition]: ...


def job(
    fn: Callable[[], Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    config: Any = None,
    partitions_def: Any = None,
    resource_defs: Mapping[str, Any] | None = None,
) -> JobDefinition | Callable[[Callable[[], Any]], JobDefinition]:
    """Define a job whose body composes ops: ``@job`` or ``@job(name=..., tags=...)``."""

    def wrap(body: Callable[[], Any]) -> JobDefinition:
        job_name = name or body.__name__
        recorder = _Recorder(job_name)
        token = _recording.set(recorder)
        try:
            body()
        finally:
            _recording.reset(token)
        partitioned = config if isinstance(config, PartitionedConfig) else None
        parts = partitions_def or (partitioned.partitions_def if partitioned else None)
        steps = tuple(replace(s, partitions_def=parts) for s in recorder.steps)
        return JobDefinition(
            job_name,
            bind_resources(steps, resource_defs or {}),
            description or body.__doc__,
            dict(tags or {}),
            {} if partitioned else run_config_dict(config),
            parts,
            partitioned,
        )

    return wrap(fn) if fn is not None else wrap
