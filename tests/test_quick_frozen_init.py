"""The tick record and commit are built by ``quick_init``'s ``__init__``: it must
build exactly what the frozen dataclass's own ``__init__`` would."""

from __future__ import annotations

import dataclasses

import pytest

from lookout._base.frozen import quick_init
from lookout._base.wire import TickRecord
from lookout._core.storage import TickCommit


@dataclasses.dataclass(frozen=True)
class _Plain:
    name: str
    size: int = 3
    tags: list[str] = dataclasses.field(default_factory=list)


@quick_init
@dataclasses.dataclass(frozen=True)
class _Quick:
    name: str
    size: int = 3
    tags: list[str] = dataclasses.field(default_factory=list)


def test_quick_init_takes_positions_names_defaults_and_factories_as_the_dataclass_does() -> None:
    pairs = [
        (_Quick("a"), _Plain("a")),
        (_Quick("a", 5), _Plain("a", 5)),
        (_Quick(name="b", tags=["x"]), _Plain(name="b", tags=["x"])),
    ]
    for quick, plain in pairs:
        assert dataclasses.asdict(quick) == dataclasses.asdict(plain)
    with pytest.raises(TypeError):
        _Quick()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _Quick("a", nope=1)  # type: ignore[call-arg]


def test_a_default_factory_gives_each_record_its_own_list() -> None:
    one, two = TickRecord("t1", "s", "SKIPPED", 1.0), TickRecord("t2", "s", "SKIPPED", 2.0)
    one.requests.append({"run_key": "k"})
    assert two.requests == [] and two.logs == [] and two.count == 1


def test_a_quickly_built_record_stays_frozen_and_replaceable() -> None:
    record = TickRecord(tick_id="t", sensor="s", status="SKIPPED", started_at=1.0, worker="w")
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.status = "FAILURE"  # type: ignore[misc]
    failed = dataclasses.replace(record, status="FAILURE", error="boom")
    assert (failed.status, failed.error, failed.worker, failed.tick_id) == (
        "FAILURE",
        "boom",
        "w",
        "t",
    )
    commit = TickCommit(record, [], False, None, 3.0)
    assert (commit.holder, commit.asset_events, commit.payload, commit.run_keys) == (
        "",
        (),
        None,
        None,
    )
    assert dataclasses.replace(commit, holder="h").holder == "h"
