"""Process heartbeats: who is alive (scheduler, worker, launcher, monitor) and who leads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from redis.typing import EncodableT

from lookout._core.storage._base import Repository
from lookout._core.storage._replies import fields_of
from lookout._core.streams import text

# The fields every heartbeat has; anything else a process reports goes to ``details``.
_FIELDS = ("role", "host", "pid", "version", "started_at", "last_seen", "leader")


@dataclass(frozen=True)
class ProcessInfo:
    """One live process, as its last heartbeat described it."""

    id: str
    role: str
    host: str
    pid: int
    version: str
    started_at: float
    last_seen: float
    leader: bool | None = None  # schedulers only: whether it holds the leader lock
    details: dict[str, str] = field(default_factory=dict)

    def to_fields(self) -> dict[str, str]:
        fields = {
            "role": self.role,
            "host": self.host,
            "pid": str(self.pid),
            "version": self.version,
            "started_at": repr(self.started_at),
            "last_seen": repr(self.last_seen),
            **self.details,
        }
        if self.leader is not None:
            fields["leader"] = "1" if self.leader else "0"
        return fields

    @classmethod
    def from_fields(cls, process_id: str, raw: Mapping[bytes, bytes]) -> ProcessInfo:
        f = {k.decode(): v.decode() for k, v in raw.items()}
        leader = f.get("leader")
        return cls(
            id=process_id,
            role=f.get("role", "?"),
            host=f.get("host", "?"),
            pid=int(f.get("pid", "0")),
            version=f.get("version", "?"),
            started_at=float(f.get("started_at", "0")),
            last_seen=float(f.get("last_seen", "0")),
            leader=None if leader is None else leader == "1",
            details={k: v for k, v in f.items() if k not in _FIELDS},
        )


def tick_processes(processes: Iterable[ProcessInfo], tick_queue: str) -> int:
    """How many worker processes evaluate ticks from ``tick_queue``, as the workers'
    heartbeats say (their pool's concurrency and the queues they consume).
    """
    slots = 0
    for p in processes:
        queues = p.details.get("queues", tick_queue).split(",")
        if p.role == "worker" and tick_queue in queues:
            slots += int(p.details.get("concurrency", "1") or 1)
    return slots


class ProcessStore(Repository):
    """Heartbeat hashes that expire unless renewed, and their index."""

    def write(self, info: ProcessInfo, ttl: float) -> None:
        """Record that ``info`` is alive for the next ``ttl`` seconds."""
        key = self.keys.process(info.id)
        pipe = self.client.pipeline(transaction=True)
        fields: dict[EncodableT, EncodableT] = {k: v for k, v in info.to_fields().items()}
        pipe.hset(key, mapping=fields)
        pipe.pexpire(key, int(ttl * 1000))
        pipe.zadd(self.keys.processes, {info.id: info.last_seen})
        # Index entries of processes silent for far longer than any TTL are
        # dropped here, so the index cannot grow with every restart.
        pipe.zremrangebyscore(self.keys.processes, "-inf", info.last_seen - 100 * ttl)
        pipe.execute()

    def remove(self, process_id: str) -> None:
        """A process that stops cleanly says so at once instead of expiring."""
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.keys.process(process_id))
        pipe.zrem(self.keys.processes, process_id)
        pipe.execute()

    def heartbeats(self) -> list[ProcessInfo]:
        """Every process whose heartbeat has not expired, oldest first."""
        ids = [text(raw) for raw in self.client.zrange(self.keys.processes, 0, -1)]
        pipe = self.client.pipeline(transaction=False)
        for process_id in ids:
            pipe.hgetall(self.keys.process(process_id))
        found = pipe.execute() if ids else []
        live = [
            ProcessInfo.from_fields(pid, fields_of(raw))
            for pid, raw in zip(ids, found, strict=True)
            if raw
        ]
        dead = [pid for pid, raw in zip(ids, found, strict=True) if not raw]
        if dead:
            self.client.zrem(self.keys.processes, *dead)
        return sorted(live, key=lambda p: p.started_at)
