"""In-flight marks as a worker sees them: their deadlines, and giving back a tick not evaluated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lookout._core.storage._base import StoreBase


class TickMarkStore(StoreBase):
    """When each sensor's in-flight mark lapses (the claim's deadline in the inflight zset)."""

    def inflight_deadlines(self, names: Sequence[str]) -> list[float | None]:
        """Each sensor's in-flight deadline (unix s), ``None`` where it has no mark."""
        if not names:
            return []
        scores = self.client.zmscore(self.keys.inflight, list(names))
        return [None if s is None else float(s) for s in scores]

    def give_back(self, name: str, tick_id: str, now: float, *, wait: bool = False) -> bool:
        """Drop the mark of a tick not evaluated, writing no record; the sensor is due again.

        Due as soon as its interval allows, or (``wait``) a whole interval
        from now.  ``False`` when ``tick_id`` no longer held the mark.
        """
        keys = [self.keys.sensor(name), self.keys.inflight, self.keys.due]
        args = [name, tick_id, repr(now), "1" if wait else "0"]
        return bool(self.scripts["give_back"](keys=keys, args=args) != 0)

    def begin_evaluations(
        self, ticks: Sequence[tuple[str, str]], me: str, dead: Mapping[str, str] | None = None
    ) -> list[str]:
        """Take up ticks ``(sensor, tick id)`` for evaluation by ``me``, in one round trip.

        Per tick: ``""`` when ``me`` may evaluate it, ``"-"`` when it no longer
        holds its mark, else the evaluator that already holds it.  ``dead``
        maps a sensor to a holder known to be dead, which ``me`` takes over.
        """
        if not ticks:
            return []
        dead = dead or {}
        pipe = self.client.pipeline(transaction=False)
        for name, tick_id in ticks:
            args = [tick_id, me, dead.get(name, "")]
            self.scripts["begin_eval"](keys=[self.keys.sensor(name)], args=args, client=pipe)
        return [r.decode() if isinstance(r, bytes) else str(r) for r in pipe.execute()]
