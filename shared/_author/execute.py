"""In-process execution of a job's steps (ops or assets) in dependency order.

Used by ``materialize``, ``JobDefinition.execute_in_process`` and by the run
task on a worker, so a job behaves the same in a test and in production.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lookout._author.asset_events import AssetMaterialization, AssetObservation
from lookout._author.asset_key import AssetKey
from lookout._author.config import run_config_dict
from lookout._author.events import DagsterEvent
from lookout._author.partition_context import PartitionContextMixin
from lookout._author.resources import Resources, ResourceScope
from lookout._author.run_events import job_status_event
from lookout._author.runs import MaterializationRecord, RunInfo
from lookout._author.step_output import materialization_of_record, sort_step_output
from lookout._author.step_params import missing_resources, step_config, step_kwargs
from lookout._base.errors import DefinitionError, LookoutError
from lookout._base.tracebacks import user_traceback


class RunFailedError(LookoutError):
    """A step of an in-process run raised; ``raise_on_error=False`` turns it into a result."""


@dataclass(frozen=True)
class Step:
    """One node of a plan: an op invocation or an asset's compute function."""

    name: str
    fn: Callable[..., Any]
    takes_context: bool
    # parameter name -> name of the step whose output it receives
    inputs: Mapping[str, str]
    asset_key: AssetKey | None = None
    config_schema: Any = None
    partitions_def: Any = None
    # the code location's resources, bound by Definitions so any run can build them
    resource_defs: Mapping[str, Any] = field(default_factory=dict)


def bind_resources(steps: tuple[Step, ...], resources: Mapping[str, Any]) -> tuple[Step, ...]:
    """The steps with a code location's resources, so any run of them can build them."""
    if not resources:
        return steps
    return tuple(replace(s, resource_defs={**resources, **s.resource_defs}) for s in steps)


class OpExecutionContext(PartitionContextMixin):
    """The ``context`` an op or asset receives: log, run id, config, resources, partition."""

    _step: Step

    def __init__(
        self, run: RunInfo, step: Step, log: logging.Logger, resources: Resources | None = None
    ) -> None:
        self._run = run
        self._step = step
        self.log = log
        self.resources = resources if resources is not None else ResourceScope({}).namespace()
        self.logged_events: list[AssetMaterialization | AssetObservation] = []

    def log_event(self, event: AssetMaterialization | AssetObservation) -> None:
        """Report an asset event (of any asset, external ones too) as part of this step."""
        if not isinstance(event, AssetMaterialization | AssetObservation):
            raise DefinitionError(
                f"step '{self._step.name}': log_event takes an AssetMaterialization or an "
                f"AssetObservation, got {event!r:.80}"
            )
        self.logged_events.append(event)

    @property
    def run_id(self) -> str:
        return self._run.run_id

    @property
    def run(self) -> RunInfo:
        return self._run

    dagster_run = run

    @property
    def job_name(self) -> str:
        return self._run.job_name

    @property
    def op_config(self) -> Any:
        return step_config(self._step, self._run.run_config)

    @property
    def run_config(self) -> Mapping[str, Any]:
        return self._run.run_config

    @property
    def asset_key(self) -> AssetKey:
        if self._step.asset_key is None:
            raise DefinitionError(f"step '{self._step.name}' is an op, not an asset")
        return self._step.asset_key


class AssetExecutionContext(OpExecutionContext):
    """The ``context`` an asset receives."""


@dataclass
class ExecuteInProcessResult:
    """The outcome of an in-process run."""

    success: bool
    dagster_run: RunInfo
    outputs: dict[str, Any] = field(default_factory=dict)
    materializations: list[MaterializationRecord] = field(default_factory=list)
    error: str | None = None

    @property
    def run_id(self) -> str:
        return self.dagster_run.run_id

    def output_for_node(self, name: str) -> Any:
        if name not in self.outputs:
            raise KeyError(f"no output for node '{name}' in run {self.run_id}")
        return self.outputs[name]

    def get_asset_materialization_events(self) -> list[MaterializationRecord]:
        return list(self.materializations)

    def get_job_success_event(self) -> DagsterEvent:
        """The run's SUCCESS event, as a run-status sensor receives it (for tests)."""
        return job_status_event(self.dagster_run, "SUCCESS", self.error)

    def get_job_failure_event(self) -> DagsterEvent:
        """The run's FAILURE event; its ``message`` is the error, as on a tick (for tests)."""
        return job_status_event(self.dagster_run, "FAILURE", self.error)

    get_run_success_event = get_job_success_event
    get_run_failure_event = get_job_failure_event

    def asset_materializations_for_node(self, node_name: str) -> list[AssetMaterialization]:
        """The materializations one step (op or asset) of this run reported, in order."""
        return [
            materialization_of_record(m)
            for m in self.materializations
            if m.step == node_name and not m.observation
        ]


MaterializationSink = Callable[[MaterializationRecord], None]


def execute_plan(
    job_name: str,
    steps: Sequence[Step],
    *,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    run_id: str | None = None,
    raise_on_error: bool = True,
    on_materialization: MaterializationSink | None = None,
    resources: Mapping[str, Any] | None = None,
) -> ExecuteInProcessResult:
    """Run ``steps`` in order (they are already topologically sorted).

    Resources (``resources``, else the ones bound to the steps) are built on
    first use and torn down when the run ends: once per run.
    """
    run = RunInfo(
        run_id=run_id or uuid.uuid4().hex,
        job_name=job_name,
        tags=dict(tags or {}),
        run_config=run_config_dict(run_config),
    )
    scope = ResourceScope(run_resources(steps, resources), run.run_config)
    try:
        return _execute(run, steps, scope, raise_on_error, on_materialization)
    finally:
        scope.close()


def run_resources(steps: Sequence[Step], resources: Mapping[str, Any] | None) -> Mapping[str, Any]:
    bound: dict[str, Any] = {}
    for step in steps:
        bound.update(step.resource_defs)
    return {**bound, **(resources or {})}


def run_logger(job_name: str) -> logging.Logger:
    """The logger an op's ``context.log`` is, in a run of ``job_name``."""
    return logging.getLogger(f"lookout.run.{job_name}")


def _execute(
    run: RunInfo,
    steps: Sequence[Step],
    scope: ResourceScope,
    raise_on_error: bool,
    on_materialization: MaterializationSink | None,
) -> ExecuteInProcessResult:
    result = ExecuteInProcessResult(success=True, dagster_run=run)
    log = run_logger(run.job_name)
    for step in steps:
        try:
            missing = missing_resources([step], scope.defs)
            if missing:
                raise DefinitionError("; ".join(missing))
            args = {param: result.outputs[src] for param, src in step.inputs.items()}
            args |= step_kwargs(step, run.run_config, scope)
            context = AssetExecutionContext(run, step, log, scope.namespace())
            value = step.fn(context, **args) if step.takes_context else step.fn(**args)
            report = sort_step_output(run, step, value, context.logged_events)
        except Exception as exc:
            result.success = False
            result.error = f"step '{step.name}' failed: {exc!r}\n{user_traceback(exc)}"
            result.dagster_run = replace(run, status="FAILURE")
            if raise_on_error:
                raise RunFailedError(result.error) from exc
            return result
        result.outputs[step.name] = report.value
        for event in report.events:
            result.materializations.append(event)
            if on_materialization is not None:
                on_materialization(event)
    result.dagster_run = replace(run, status="SUCCESS")
    return result
