"""``fast_init`` swaps a frozen dataclass's ``__init__`` for a cheaper one and
nothing else: instances stay frozen, equal and hashable as before, built with
the same parameters, defaults and fresh default factories; ``replace``,
``fields`` and ``asdict`` work; a class it cannot build the same way is
refused when it is defined.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import FrozenInstanceError, InitVar, dataclass, field
from pathlib import Path
from typing import Any

import mypy.api
import pytest

from lookout._author.evaluate import SensorOutcome
from lookout._base.fast_init import fast_init
from lookout._base.wire import LaunchRequest, TickMessage, TickRecord
from lookout._core.storage.claimed import ClaimedTick
from lookout._core.storage.sensors import SensorState
from lookout._core.storage.ticks import TickCommit

# The types built on every tick (and per run request), each with the arguments it needs.
TICK_PATH: list[tuple[type[Any], dict[str, Any]]] = [
    (TickRecord, {"tick_id": "t1", "sensor": "s", "status": "SKIPPED", "started_at": 1.0}),
    (TickMessage, {"sensor": "s", "tick_id": "t1", "due_at": 2.0}),
    (
        TickCommit,
        {
            "record": TickRecord("t1", "s", "SKIPPED", 1.0),
            "launches": [],
            "store_cursor": False,
            "cursor": None,
            "next_due": 3.0,
        },
    ),
    (
        SensorState,
        {
            "status": None,
            "default": "RUNNING",
            "cursor": None,
            "inflight": "t1",
            "last_entry": None,
        },
    ),
    (
        SensorOutcome,
        {"run_requests": (), "skip_message": "no", "cursor": None, "cursor_updated": False},
    ),
    (ClaimedTick, {"sensor": "s", "tick_id": "t1", "due_at": 2.0}),
    (
        LaunchRequest,
        {
            "request_id": "r",
            "sensor": "s",
            "tick_id": "t1",
            "job_name": "j",
            "run_key": None,
            "run_config": {},
            "tags": {},
            "partition_key": None,
            "created_at": 1.0,
        },
    ),
]


@fast_init
@dataclass(frozen=True)
class Sample:
    name: str
    size: int = 3
    items: list[int] = field(default_factory=list, compare=False)
    tags: dict[str, str] = field(default_factory=dict, compare=False)
    note: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class StockSample:
    """``Sample`` as ``@dataclass`` alone builds it."""

    name: str
    size: int = 3
    items: list[int] = field(default_factory=list, compare=False)
    tags: dict[str, str] = field(default_factory=dict, compare=False)
    note: str | None = field(default=None, kw_only=True)


def stock_twin(cls: type[Any]) -> type[Any]:
    """The same fields in a plain frozen dataclass (the ``__init__`` ``@dataclass`` writes)."""
    specs = []
    for f in dataclasses.fields(cls):
        default: Any = (
            field(default=f.default, kw_only=f.kw_only)
            if f.default is not dataclasses.MISSING
            else field(default_factory=f.default_factory, kw_only=f.kw_only)
            if f.default_factory is not dataclasses.MISSING
            else field(kw_only=f.kw_only)
        )
        specs.append((f.name, f.type, default))
    return dataclasses.make_dataclass(f"Stock{cls.__name__}", specs, frozen=True)


def test_assigning_a_field_still_raises_frozen_instance_error() -> None:
    # By setattr: mypy refuses the assignment itself (test_mypy_still_checks_...).
    name, status = "name", "status"
    sample = Sample("a")
    with pytest.raises(FrozenInstanceError):
        setattr(sample, name, "b")
    record = TickRecord("t1", "s", "SKIPPED", 1.0)
    with pytest.raises(FrozenInstanceError):
        setattr(record, status, "SUCCESS")
    with pytest.raises(FrozenInstanceError):
        delattr(record, status)
    assert record.status == "SKIPPED" and sample.name == "a"


def test_defaults_apply_and_each_instance_gets_its_own_factory_values() -> None:
    first, second = Sample("a"), Sample("b", 5, note="n")
    assert (first.size, first.items, first.tags, first.note) == (3, [], {}, None)
    assert (second.size, second.note) == (5, "n")
    assert first.items is not second.items and first.tags is not second.tags
    one, two = TickRecord("t1", "s", "SKIPPED", 1.0), TickRecord("t2", "s", "SKIPPED", 1.0)
    assert one.logs == [] and one.logs is not two.logs and one.requests is not two.requests
    given = [1]
    assert Sample("c", items=given).items is given


def test_the_parameters_are_those_the_dataclass_would_take() -> None:
    ours = inspect.signature(Sample).parameters.values()
    stock = inspect.signature(StockSample).parameters.values()
    assert [(p.name, p.kind) for p in ours] == [(p.name, p.kind) for p in stock]
    # Through dicts and lists: mypy refuses these calls as written.
    nothing: dict[str, Any] = {}
    unknown: dict[str, Any] = {"colour": "red"}
    five: list[Any] = ["a", 1, [], {}, "note"]
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'name'"):
        Sample(**nothing)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        Sample("a", **unknown)
    with pytest.raises(TypeError, match="positional"):
        Sample(*five)


def test_equality_hash_and_repr_are_the_dataclass_s() -> None:
    assert Sample("a", 1, [1]) == Sample("a", 1, [2])  # items do not compare
    assert Sample("a", 1) != Sample("a", 2)
    assert hash(Sample("a", 1, [1])) == hash(Sample("a", 1)) == hash(StockSample("a", 1))
    assert repr(Sample("a")).removeprefix("Sample") == repr(StockSample("a")).removeprefix(
        "StockSample"
    )
    assert TickMessage("s", "t", 1.0) == TickMessage("s", "t", 1.0)
    assert hash(TickMessage("s", "t", 1.0)) == hash(TickMessage("s", "t", 1.0))


def test_replace_fields_and_asdict_work() -> None:
    sample = Sample("a", items=[1], note="n")
    changed = dataclasses.replace(sample, size=9)
    assert (changed.name, changed.size, changed.items, changed.note) == ("a", 9, [1], "n")
    assert sample.size == 3
    assert [f.name for f in dataclasses.fields(Sample)] == ["name", "size", "items", "tags", "note"]
    assert dataclasses.asdict(changed) == {
        "name": "a",
        "size": 9,
        "items": [1],
        "tags": {},
        "note": "n",
    }
    record = dataclasses.replace(TickRecord("t1", "s", "SKIPPED", 1.0), status="SUCCESS")
    assert (record.tick_id, record.status) == ("t1", "SUCCESS")


@pytest.mark.parametrize(("cls", "required"), TICK_PATH, ids=lambda v: getattr(v, "__name__", ""))
def test_the_tick_path_types_build_as_their_plain_dataclass_would(
    cls: type[Any], required: dict[str, Any]
) -> None:
    twin = stock_twin(cls)
    ours, stock = inspect.signature(cls).parameters, inspect.signature(twin).parameters
    assert [(p.name, p.kind) for p in ours.values()] == [(p.name, p.kind) for p in stock.values()]
    built, expected = cls(**required), twin(**required)
    assert dataclasses.asdict(built) == dataclasses.asdict(expected)
    assert built == dataclasses.replace(built)
    with pytest.raises(FrozenInstanceError):
        setattr(built, next(iter(required)), None)


MISUSES = """
from dataclasses import dataclass

from lookout._base.fast_init import fast_init
from lookout._base.wire import TickMessage


@fast_init
@dataclass(frozen=True)
class Sample:
    name: str
    size: int = 3


Sample("a", size="big")
Sample("a", colour="red")
TickMessage(sensor="s", tick_id="t", due=1.0)
Sample("a").name = "b"
"""


def test_mypy_still_checks_the_constructor_and_refuses_assignment(tmp_path: Path) -> None:
    source = tmp_path / "misuses.py"
    source.write_text(MISUSES)
    cache = str(tmp_path / "cache")
    report, _, status = mypy.api.run(["--strict", "--cache-dir", cache, str(source)])
    assert status == 1, report
    errors = [line.split(": error: ")[1] for line in report.splitlines() if ": error: " in line]
    assert errors == [
        'Argument "size" to "Sample" has incompatible type "str"; expected "int"  [arg-type]',
        'Unexpected keyword argument "colour" for "Sample"  [call-arg]',
        'Unexpected keyword argument "due" for "TickMessage"  [call-arg]',
        'Property "name" defined in "Sample" is read-only  [misc]',
    ]


def test_a_class_it_cannot_build_the_same_way_is_refused_when_defined() -> None:
    with pytest.raises(TypeError, match="not a dataclass"):

        @fast_init
        class Plain:
            name: str

    with pytest.raises(TypeError, match="frozen"):

        @fast_init
        @dataclass
        class Mutable:
            name: str

    with pytest.raises(TypeError, match="__post_init__"):

        @fast_init
        @dataclass(frozen=True)
        class Checked:
            name: str

            def __post_init__(self) -> None:
                assert self.name

    with pytest.raises(TypeError, match=r"parameters would change: \(name, size\) -> \(name\)"):

        @fast_init
        @dataclass(frozen=True)
        class WithInitVar:
            name: str
            size: InitVar[int] = 0

    with pytest.raises(TypeError, match="__slots__"):

        @fast_init
        @dataclass(frozen=True, slots=True)
        class Slotted:
            name: str

    with pytest.raises(TypeError, match="init=False"):

        @fast_init
        @dataclass(frozen=True)
        class Derived:
            name: str
            size: int = field(default=0, init=False)
