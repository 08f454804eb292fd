"""In-flight deadlines, as a worker checks them before it evaluates a claimed tick."""

from __future__ import annotations

from collections.abc import Sequence

from shared._storage._base import StoreBase


class TickMarkStore(StoreBase):
    """When each sensor's in-flight mark lapses (the claim's deadline in the inflight zset)."""

    def inflight_deadlines(self, names: Sequence[str]) -> list[float | None]:
        """Each sensor's in-flight deadline (unix s), ``None`` where it has no mark."""
        if not names:
            return []
        scores = self.client.zmscore(self.keys.inflight, list(names))
        return [None if s is None else float(s) for s in scores]
