"""What the leader's claiming round hands back: its ticks in columns.

A round claims up to thousands of ticks; the scheduler only carries them on
(to ``pack_ticks``' columns and the publish script's names), so they stay in
the columns ``CLAIM_DUE`` answers with: one list per field rather than an
object per tick, whose building was ~20% of a scheduler's CPU at capacity.
``ClaimedTick`` is one row of them, for the few callers that want a tick at
a time (a tick given back or parked, tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from lookout._base.codec import decode_raw
from lookout._base.fast_init import fast_init

# Between two names in the reply: the one byte never in UTF-8 (and so never in
# a name), as ``surrogateescape`` reads it.
_NAME_SEPARATOR = "\udcff"


@fast_init
@dataclass(frozen=True)
class ClaimedTick:
    """A tick the leader claimed: its sensor's lease is held by ``tick_id``."""

    sensor: str
    tick_id: str
    due_at: float


@dataclass(frozen=True)
class ClaimedTicks:
    """Claimed ticks in columns: the i-th is ``sensors[i]``'s, held by the tick id
    ``id_prefix + ids[i]``, due at ``due_at[i]``; ``round`` names the claiming round
    (``CLAIM_DUE``'s, "" for ticks put together otherwise), which the publish names.
    """

    sensors: Sequence[str] = ()
    id_prefix: str = ""
    ids: Sequence[str] = ()
    due_at: Sequence[float] = ()
    round: str = ""

    @classmethod
    def of(cls, ticks: Sequence[ClaimedTick]) -> ClaimedTicks:
        """The columns of ``ticks`` (whole tick ids, no shared prefix)."""
        return cls(
            [t.sensor for t in ticks], "", [t.tick_id for t in ticks], [t.due_at for t in ticks]
        )

    def __len__(self) -> int:
        return len(self.sensors)

    def __iter__(self) -> Iterator[ClaimedTick]:
        prefix = self.id_prefix
        for sensor, tick_id, due_at in zip(self.sensors, self.ids, self.due_at, strict=True):
            yield ClaimedTick(sensor, prefix + tick_id, due_at)

    def part(self, start: int, stop: int) -> ClaimedTicks:
        """The ticks ``start`` to ``stop`` (as a slice)."""
        return ClaimedTicks(
            self.sensors[start:stop],
            self.id_prefix,
            self.ids[start:stop],
            self.due_at[start:stop],
            self.round,
        )

    def where(self, keep: Callable[[str], bool]) -> ClaimedTicks:
        """The ticks whose sensor ``keep`` accepts."""
        rows = [i for i, sensor in enumerate(self.sensors) if keep(sensor)]
        return ClaimedTicks(
            [self.sensors[i] for i in rows],
            self.id_prefix,
            [self.ids[i] for i in rows],
            [self.due_at[i] for i in rows],
            self.round,
        )


@dataclass(frozen=True)
class ClaimRound:
    """What one scheduling round did."""

    claimed: ClaimedTicks
    requeued: int  # leases that lapsed while held (their process died): FAILURE ticks
    promoted: int  # triggers that waited for an in-flight tick, now due
    deferred: int = 0  # due ticks put back: the launch stream is over its limit
    # Published ticks no worker began before their leases lapsed (they waited
    # in the tick queue, or their message was lost): given back, no record.
    lapsed: int = 0
    queued: int = 0  # messages in the tick queue as the round saw it
    # Nothing claimed: the tick queue held the bound's messages or more (the
    # workers are behind); the due sensors stay due.
    held_back: bool = False

    @property
    def ticks(self) -> list[ClaimedTick]:
        """The claimed ticks one by one (the scheduler reads ``claimed``, in columns)."""
        return list(self.claimed)


def read_round(packed: bytes) -> ClaimRound:
    """A ``ClaimRound`` from ``CLAIM_DUE``'s reply (see its header)."""
    round_id, reply = decode_raw(packed)
    expired, promoted, deferred, lapsed, queued, held_back, count, names, dues = reply
    claimed = ClaimedTicks()
    if count:
        zeros, ordinals = _ordinals(int(count))
        round_name = round_id.decode()
        claimed = ClaimedTicks(
            names.decode("utf-8", "surrogateescape").split(_NAME_SEPARATOR),
            round_name + zeros,
            ordinals,
            list(map(float, dues.split())),
            round_name,
        )
    return ClaimRound(
        claimed=claimed,
        requeued=int(expired),
        promoted=int(promoted),
        deferred=int(deferred),
        lapsed=int(lapsed),
        queued=int(queued),
        held_back=bool(int(held_back)),
    )


@lru_cache(maxsize=4)
def _ordinals(count: int) -> tuple[str, tuple[str, ...]]:
    """A round's tick ids after its prefix, 1 to ``count`` as ``CLAIM_DUE`` writes them (8
    hex digits): the leading zeros they all share, then each one's other digits.  Made once
    for the sizes rounds have (a full round's, mostly); the zeros apart, as a message
    writes them (``pack_columns`` then has no id to cut).
    """
    width = len(f"{count:x}")
    return "0" * (8 - width), tuple(f"{n:0{width}x}" for n in range(1, count + 1))
