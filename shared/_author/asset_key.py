"""Asset keys: the identity of an asset, a path of string parts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lookout._base.errors import DefinitionError


@dataclass(frozen=True, slots=True)
class AssetKey:
    """The key of an asset: ``AssetKey("table")`` or ``AssetKey(["schema", "table"])``."""

    parts: tuple[str, ...]

    def __init__(self, path: str | Sequence[str]) -> None:
        parts = (path,) if isinstance(path, str) else tuple(path)
        if not parts or not all(isinstance(p, str) and p for p in parts):
            raise DefinitionError(f"an AssetKey needs non-empty string parts, got {path!r}")
        object.__setattr__(self, "parts", parts)

    @property
    def path(self) -> list[str]:
        """The parts as a list, as Dagster's ``AssetKey.path`` is."""
        return list(self.parts)

    def to_user_string(self) -> str:
        """The key as users write it: parts joined by ``/``."""
        return "/".join(self.parts)

    @classmethod
    def from_user_string(cls, text: str) -> AssetKey:
        """Parse the ``a/b/c`` form that ``to_user_string`` gives."""
        return cls(text.split("/"))

    @classmethod
    def from_coercible(cls, value: AssetKey | str | Sequence[str]) -> AssetKey:
        """Accept an AssetKey, a ``"a/b"`` string or a list of parts."""
        if isinstance(value, AssetKey):
            return value
        if isinstance(value, str):
            return cls.from_user_string(value)
        return cls(value)

    def __str__(self) -> str:
        return f"AssetKey({self.path!r})"
