"""Test helpers Dagster's docs use: a test instance, and op and asset contexts to call with."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from lookout._author.config import config_dict
from lookout._author.execute import AssetExecutionContext, Step
from lookout._author.instance import DagsterInstance
from lookout._author.requests import PARTITION_TAG
from lookout._author.resources import ResourceScope
from lookout._author.runs import RunInfo


@contextlib.contextmanager
def instance_for_test(overrides: Mapping[str, Any] | None = None) -> Iterator[DagsterInstance]:
    """An empty in-process instance for one test (``with instance_for_test() as instance``)."""
    del overrides  # Dagster's instance settings have no meaning here
    with DagsterInstance.ephemeral() as instance:
        yield instance


class BuiltContext(AssetExecutionContext):
    """A context made by a test: its config is the one given, whatever the op's name.

    Used as a context manager, it tears down the resources it built on exit.
    """

    def __init__(
        self,
        run: RunInfo,
        step: Step,
        config: Any,
        scope: ResourceScope,
        instance: DagsterInstance | None,
    ) -> None:
        super().__init__(run, step, logging.getLogger("lookout.test"), scope.namespace())
        self._config = config_dict(config)
        self._scope = scope
        self.instance = instance

    @property
    def op_config(self) -> Any:
        return self._config

    def __enter__(self) -> BuiltContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self._scope.close()


def _unused(**_: Any) -> None:
    return None


def _build(
    config: Any,
    resources: Mapping[str, Any] | None,
    partition_key: str | None,
    instance: DagsterInstance | None,
    run_tags: Mapping[str, str] | None,
    partitions_def: Any = None,
) -> BuiltContext:
    tags = dict(run_tags or {})
    if partition_key is not None:
        tags[PARTITION_TAG] = partition_key
    run = RunInfo(uuid.uuid4().hex, "__test_job__", tags, {})
    step = Step("__test_step__", _unused, False, {}, partitions_def=partitions_def)
    scope = ResourceScope(resources or {}, instance=instance)
    return BuiltContext(run, step, config, scope, instance)


def build_op_context(
    resources: Mapping[str, Any] | None = None,
    op_config: Any = None,
    resources_config: Mapping[str, Any] | None = None,
    instance: DagsterInstance | None = None,
    config: Any = None,
    partition_key: str | None = None,
    run_tags: Mapping[str, str] | None = None,
    partitions_def: Any = None,
) -> BuiltContext:
    """A context to call an op directly in a test, with config, resources and a partition."""
    del resources_config
    return _build(op_config or config, resources, partition_key, instance, run_tags, partitions_def)


def build_asset_context(
    resources: Mapping[str, Any] | None = None,
    resources_config: Mapping[str, Any] | None = None,
    asset_config: Any = None,
    instance: DagsterInstance | None = None,
    partition_key: str | None = None,
    run_tags: Mapping[str, str] | None = None,
    partitions_def: Any = None,
) -> BuiltContext:
    """A context to call an asset directly in a test."""
    del resources_config
    return _build(asset_config, resources, partition_key, instance, run_tags, partitions_def)
