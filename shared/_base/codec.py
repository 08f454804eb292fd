"""msgpack encoding behind one codec, with its own error type.

Everything lookout writes to Redis or to a queue goes through here, so nothing
is ever pickled (invariant 6).  Wire types are frozen dataclasses that declare
how they map to plain msgpack values with ``to_wire`` / ``from_wire``.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Protocol, Self, TypeVar

import msgpack

from lookout._base.errors import CodecError

__all__ = [
    "CodecError",
    "WireType",
    "decode",
    "decode_first",
    "decode_from",
    "decode_value",
    "decode_values",
    "encode",
    "encode_script_args",
    "encode_text_bytes",
    "encode_value",
]


class WireType(Protocol):
    """A frozen dataclass that maps itself to and from a plain msgpack value."""

    def to_wire(self) -> dict[str, Any]: ...

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Self: ...


W = TypeVar("W", bound=WireType)

# Each thread's packer for ``encode_text_bytes``: a worker encodes a tick
# record per tick, and ``packb`` builds a packer per call (0.51 us against 0.24).
# Per thread, as a packer is not safe to share; one that fails resets itself.
_text_packers = threading.local()


def encode_value(value: object) -> bytes:
    """Encode a plain value (a cursor, a run config) to msgpack bytes."""
    try:
        return msgpack.packb(value, use_bin_type=True, datetime=False)  # type: ignore[no-any-return]
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(f"cannot encode a {type(value).__name__} as msgpack: {exc}") from exc


def encode_script_args(args: dict[str, Any]) -> bytes:
    """Encode a Lua script's named arguments: bytes go as msgpack strings, which
    Redis's cmsgpack reads byte for byte (it cannot read msgpack's bin type).
    """
    try:
        packed: bytes = msgpack.packb(args, use_bin_type=False, datetime=False)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(f"cannot encode script arguments as msgpack: {exc}") from exc
    return packed


def decode_value(data: bytes) -> Any:
    """Decode msgpack bytes back into plain Python values (lists, dicts, str, bytes...)."""
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError) as exc:
        raise CodecError(f"cannot decode msgpack payload ({len(data)} bytes): {exc}") from exc


def decode_raw(data: bytes) -> Any:
    """Decode msgpack packed by Redis's Lua (cmsgpack): every string as ``bytes``,
    as Redis holds them (a cursor, a history entry), nil-less arrays with ``False``.
    """
    try:
        return msgpack.unpackb(data, raw=True, strict_map_key=False, use_list=True)
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError) as exc:
        raise CodecError(f"cannot decode msgpack reply ({len(data)} bytes): {exc}") from exc


def encode_text_bytes(value: object) -> bytes:
    """Encode a plain value whose bytes go as msgpack strings (Lua's cmsgpack
    reads no bin type); read back with ``lenient=True``, they are ``str`` whose
    ``encode("utf-8", "surrogateescape")`` gives the bytes back.
    """
    packer: msgpack.Packer | None = getattr(_text_packers, "packer", None)
    if packer is None:
        packer = _text_packers.packer = msgpack.Packer(use_bin_type=False, datetime=False)
    try:
        packed: bytes = packer.pack(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(f"cannot encode a {type(value).__name__} as msgpack: {exc}") from exc
    return packed


def _unpacker(size: int, lenient: bool) -> msgpack.Unpacker:
    # The buffer fits the data whatever its size: reading never fails on a big value.
    return msgpack.Unpacker(
        raw=False,
        strict_map_key=False,
        use_list=True,
        max_buffer_size=max(size, 1),
        unicode_errors="surrogateescape" if lenient else "strict",
    )


def decode_values(data: bytes, *, lenient: bool = False) -> list[Any]:
    """Decode bytes that hold several msgpack values one after the other.

    ``lenient``: a string that is not UTF-8 (bytes written by
    ``encode_text_bytes``) reads with its bytes kept as surrogates.
    """
    unpacker = _unpacker(len(data), lenient)
    unpacker.feed(data)
    try:
        values = list(unpacker)
    except (ValueError, TypeError, msgpack.FormatError, msgpack.StackError) as exc:
        raise CodecError(f"cannot decode msgpack values ({len(data)} bytes): {exc}") from exc
    if unpacker.tell() != len(data):  # a truncated last value is waited for, not raised
        raise CodecError(f"truncated msgpack values ({len(data)} bytes)")
    return values


def _nested(value: object) -> Any:
    # A wire type's ``to_wire`` is shallow: a dataclass nested in a field's
    # value (a run config, say) is encoded as its map.
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"can not serialize {type(value).__name__!r} object")


def decode_first(data: bytes, *, lenient: bool = False) -> Any:
    """Decode only the first of several msgpack values (the rest is not read).

    ``unpackb`` rather than an ``Unpacker``: building one costs more than
    decoding a tick's record, and a worker reads one per tick.
    """
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=False,
            use_list=True,
            unicode_errors="surrogateescape" if lenient else "strict",
        )
    except msgpack.ExtraData as more:  # values after the first: left unread
        return more.unpacked
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise CodecError(f"cannot decode a msgpack value ({len(data)} bytes): {exc}") from exc


def encode(obj: WireType) -> bytes:
    """Encode a wire type."""
    try:
        return msgpack.packb(  # type: ignore[no-any-return]
            obj.to_wire(), use_bin_type=True, datetime=False, default=_nested
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(f"cannot encode a {type(obj).__name__} as msgpack: {exc}") from exc


def decode(cls: type[W], data: bytes) -> W:
    """Decode bytes into the wire type ``cls``; any malformed payload is a ``CodecError``."""
    return decode_from(cls, decode_value(data))


def decode_from(cls: type[W], raw: Any) -> W:
    """Build the wire type ``cls`` from an already decoded msgpack value."""
    if not isinstance(raw, dict):
        raise CodecError(f"expected a msgpack map for {cls.__name__}, got {type(raw).__name__}")
    try:
        return cls.from_wire(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise CodecError(f"malformed {cls.__name__} payload: {exc!r}") from exc
