"""A job's run config is checked against Pythonic ``Config`` ops without crashing.

An op whose ``Config`` has only defaulted fields needs no config in the run
config; one with a required field does, and its absence is named.
"""

from __future__ import annotations

import pytest

import lookout as dg
from lookout._author.validate import validate_run_config
from lookout._base.errors import DefinitionError


class Defaulted(dg.Config):
    rows: int = 1


class Needed(dg.Config):
    table: str


@dg.op
def defaulted(config: Defaulted) -> int:
    return config.rows


@dg.op
def needed(config: Needed) -> str:
    return config.table


@dg.job
def defaulted_job() -> None:
    defaulted()


@dg.job
def needed_job() -> None:
    needed()


def test_an_op_config_with_only_defaults_may_be_left_out_of_the_run_config() -> None:
    validate_run_config(defaulted_job, {})
    validate_run_config(defaulted_job, {"ops": {"defaulted": {"config": {"rows": 3}}}})


def test_an_op_config_with_a_required_field_left_out_is_named() -> None:
    with pytest.raises(DefinitionError, match=r"ops\.needed: missing required config"):
        validate_run_config(needed_job, {})
