"""The leader's recent tick rate: ticks claimed per second over a sliding span.

The scheduler asks it whether ticks come fast enough to fill rounds without
waiting for groups (``RoundPace._fills_anyway``), and, while rounds wait for
groups, how many ticks come within the merge wait (``RoundPace._gather``).
"""

from __future__ import annotations

from collections import deque


class ClaimRate:
    """Ticks claimed per second over the last ``span`` seconds of a caller's clock."""

    def __init__(self, span: float) -> None:
        self.span = span
        # (clock time, ticks claimed) of each round within the span, oldest first.
        self._rounds: deque[tuple[float, int]] = deque()
        self._total = 0

    def add(self, now: float, claimed: int) -> None:
        """A round at ``now`` claimed ``claimed`` ticks."""
        if claimed:
            self._rounds.append((now, claimed))
            self._total += claimed
        self._drop_before(now)

    def per_second(self, now: float) -> float:
        """Ticks claimed a second over the span up to ``now``."""
        self._drop_before(now)
        return self._total / self.span

    def _drop_before(self, now: float) -> None:
        # Rounds older than the span leave at once: kept, they would pile up
        # (nothing else reads them while rounds do not merge).
        since = now - self.span
        while self._rounds and self._rounds[0][0] <= since:
            self._total -= self._rounds.popleft()[1]
