"""Metadata values: what an asset event or an asset carries besides its key.

As in Dagster, plain values are normalized to typed ``MetadataValue``s
(``"x"`` to ``TextMetadataValue(text='x')``, ``3`` to ``IntMetadataValue``,
a dict or list to ``JsonMetadataValue``...), and ``MetadataValue.text(...)``
and friends build them explicitly.  Each value also has a plain wire form
(``[type, value]``) so the event stream can carry it through the codec.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lookout._base.errors import DefinitionError


@dataclass(frozen=True)
class TextMetadataValue:
    text: str

    @property
    def value(self) -> str:
        return self.text


@dataclass(frozen=True)
class IntMetadataValue:
    value: int


@dataclass(frozen=True)
class FloatMetadataValue:
    value: float


@dataclass(frozen=True)
class BoolMetadataValue:
    value: bool


@dataclass(frozen=True)
class JsonMetadataValue:
    data: Any

    @property
    def value(self) -> Any:
        return self.data


@dataclass(frozen=True)
class UrlMetadataValue:
    url: str

    @property
    def value(self) -> str:
        return self.url


@dataclass(frozen=True)
class PathMetadataValue:
    path: str

    @property
    def value(self) -> str:
        return self.path


@dataclass(frozen=True)
class MarkdownMetadataValue:
    md_str: str

    @property
    def value(self) -> str:
        return self.md_str


@dataclass(frozen=True)
class TimestampMetadataValue:
    value: float


@dataclass(frozen=True)
class NullMetadataValue:
    @property
    def value(self) -> None:
        return None


MetadataValueType = (
    TextMetadataValue
    | IntMetadataValue
    | FloatMetadataValue
    | BoolMetadataValue
    | JsonMetadataValue
    | UrlMetadataValue
    | PathMetadataValue
    | MarkdownMetadataValue
    | TimestampMetadataValue
    | NullMetadataValue
)

_TYPED = (
    TextMetadataValue,
    IntMetadataValue,
    FloatMetadataValue,
    BoolMetadataValue,
    JsonMetadataValue,
    UrlMetadataValue,
    PathMetadataValue,
    MarkdownMetadataValue,
    TimestampMetadataValue,
    NullMetadataValue,
)

# The wire name of each kind and how to build it back from its plain value.
_BY_NAME: dict[str, Callable[[Any], MetadataValueType]] = {
    "text": TextMetadataValue,
    "int": IntMetadataValue,
    "float": FloatMetadataValue,
    "bool": BoolMetadataValue,
    "json": JsonMetadataValue,
    "url": UrlMetadataValue,
    "path": PathMetadataValue,
    "md": MarkdownMetadataValue,
    "timestamp": TimestampMetadataValue,
    "null": lambda _value: NullMetadataValue(),
}
_NAME_OF: dict[type, str] = {
    TextMetadataValue: "text",
    IntMetadataValue: "int",
    FloatMetadataValue: "float",
    BoolMetadataValue: "bool",
    JsonMetadataValue: "json",
    UrlMetadataValue: "url",
    PathMetadataValue: "path",
    MarkdownMetadataValue: "md",
    TimestampMetadataValue: "timestamp",
    NullMetadataValue: "null",
}


class MetadataValue:
    """Builders of typed metadata values, under Dagster's names."""

    @staticmethod
    def text(text: str) -> TextMetadataValue:
        return TextMetadataValue(text)

    @staticmethod
    def int(value: builtins.int) -> IntMetadataValue:
        return IntMetadataValue(value)

    @staticmethod
    def float(value: builtins.float) -> FloatMetadataValue:
        return FloatMetadataValue(value)

    @staticmethod
    def bool(value: builtins.bool) -> BoolMetadataValue:
        return BoolMetadataValue(value)

    @staticmethod
    def json(data: Any) -> JsonMetadataValue:
        return JsonMetadataValue(data)

    @staticmethod
    def url(url: str) -> UrlMetadataValue:
        return UrlMetadataValue(url)

    @staticmethod
    def path(path: str | os.PathLike[str]) -> PathMetadataValue:
        return PathMetadataValue(os.fspath(path))

    @staticmethod
    def md(md_str: str) -> MarkdownMetadataValue:
        return MarkdownMetadataValue(md_str)

    @staticmethod
    def timestamp(value: builtins.float) -> TimestampMetadataValue:
        return TimestampMetadataValue(value)

    @staticmethod
    def null() -> NullMetadataValue:
        return NullMetadataValue()


def normalize_value(key: str, value: Any) -> MetadataValueType:
    """A typed value for ``value`` as Dagster normalizes it; anything else is refused."""
    if isinstance(value, _TYPED):
        return value
    builders: list[tuple[type | tuple[type, ...], Callable[[Any], MetadataValueType]]] = [
        (str, TextMetadataValue),
        (bool, BoolMetadataValue),  # before int: a bool is an int in Python
        (int, IntMetadataValue),
        (float, FloatMetadataValue),
        ((dict, list), JsonMetadataValue),
        (os.PathLike, lambda v: PathMetadataValue(os.fspath(v))),
    ]
    if value is None:
        return NullMetadataValue()
    for kinds, build in builders:
        if isinstance(value, kinds):
            return build(value)
    raise DefinitionError(
        f"metadata entry '{key}' is a {type(value).__name__} ({value!r:.80}); use a str, int, "
        "float, bool, dict, list, None or a MetadataValue"
    )


def normalize_metadata(metadata: Mapping[str, Any] | None) -> dict[str, MetadataValueType]:
    """Every entry of ``metadata`` as a typed value (keys must be strings)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise DefinitionError(f"metadata must be a dict, got {metadata!r:.80}")
    normalized: dict[str, MetadataValueType] = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise DefinitionError(f"metadata keys must be strings, got {key!r}")
        normalized[key] = normalize_value(key, value)
    return normalized


def metadata_to_wire(metadata: Mapping[str, MetadataValueType]) -> dict[str, list[Any]]:
    """The plain form the event stream carries: ``{key: [type, value]}``."""
    return {k: [_NAME_OF[type(v)], v.value] for k, v in metadata.items()}


def metadata_from_wire(wire: Mapping[str, Any]) -> dict[str, MetadataValueType]:
    """Typed values back from ``metadata_to_wire``'s form; unknown kinds stay text."""
    values: dict[str, MetadataValueType] = {}
    for key, pair in wire.items():
        kind, value = (pair[0], pair[1]) if isinstance(pair, list | tuple) else ("json", pair)
        build = _BY_NAME.get(kind)
        values[key] = build(value) if build else TextMetadataValue(str(value))
    return values
