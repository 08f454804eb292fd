"""Settings: one frozen object, read from ``LOOKOUT_*`` variables and passed explicitly."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

from lookout._base.errors import LookoutError
from lookout._core.redis_url import masked_url

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class SettingsError(LookoutError):
    """A setting no process can run with; the message names it in one line."""


@dataclass(frozen=True)
class Settings:
    """Everything a lookout process needs to know besides the code location."""

    redis_url: str = DEFAULT_REDIS_URL
    # Every Redis key starts with this, so two deployments can share one server.
    key_prefix: str = "lookout:"
    # How long one sensor evaluation may run before its tick is a FAILURE.
    tick_timeout: float = 60.0
    # A tick lease outlives the timeout by this much past its last renewal
    # (renewed every third of it) before the sweep counts the tick as lost.
    inflight_margin: float = 30.0
    # Each sensor's tick history keeps at most this many records (a run of
    # SKIPPED ticks with one reason is one record) ...
    tick_history: int = 12
    # ... and none that ended more than this many seconds before the newest
    # started (0: no bound by age).
    tick_history_age: float = 86400.0
    tick_queue: str = "ticks"
    run_queue: str = "runs"
    # Scheduler: due ticks claimed per round, and the most ticks one Celery
    # message carries (one message per tick cannot go past Celery's own
    # rate; a full round after a full one, or one while messages wait for
    # the workers, is sent in messages this large).  1,000, a whole full
    # round in one message: a message costs the broker, the worker and the
    # scheduler the same whatever it carries, and at capacity 1,000-tick
    # messages gave ~10% more committed ticks/s than 500 (bench/RESULTS.md
    # "Round 11").
    schedule_limit: int = 1000
    tick_batch_size: int = 1000
    # A round that is not full is spread over the workers' processes, but
    # no message carries fewer than this while more are due.  1 by default:
    # a message's ticks are evaluated one after another, so a slow or hanging
    # sensor delays the healthy ones that share its message (invariant 5);
    # spread over the processes, it holds back only its own.
    tick_batch_min: int = 1
    # The scheduler sleeps at most this long between rounds (a trigger or
    # the next due time wakes it earlier).
    scheduler_max_sleep: float = 0.5
    # ... and at least this long after a round that was not full, so that ticks
    # coming due a few ms apart share a round and a message (their lateness).
    scheduler_min_pause: float = 0.02
    # A due tick waits at most this long for others, until a round has
    # ``tick_batch_gather`` ticks (or ``tick_batch_min``, if more) for each
    # worker process: at a low due rate a round then costs less per tick
    # (0: rounds every min pause).
    scheduler_batch_wait: float = 0.05
    # ... or this long when that fills the round (when over the batch wait,
    # and without LOOKOUT_SENSOR_JITTER; the round then waits for no more
    # than the tick rate fills within most of this wait, per
    # ``scheduler._groups.round_gather``): sensors of one interval tick again
    # an interval after their round, so a group gathered once is due
    # together from then on and its rounds hardly wait: fewer, larger
    # rounds at a low tick rate (200 sensors at 1 s: ~0.5x the CPU per
    # tick, p99 lateness ~25 ms instead of ~55), for up to this long of
    # lateness while the groups form (after a start, or a change of workers).
    # A round also takes a group that begins right after its batch wait
    # (``scheduler._groups.trailing_end``): else it trails as a round of its own.
    scheduler_merge_wait: float = 0.5
    # The leader claims the sensors due within this long after now, not only
    # those due: their ticks reach a worker before their due times, and the
    # worker holds each until then (at most this long, whatever its clock
    # says), so that a tick starts at its due time rather than after the
    # whole dispatch path (the round, the publish, the delivery, the take-up:
    # ~25 ms at half load).  0: only due sensors are claimed, each starts
    # late by that path.  Measured at 30 ms against 0: p50 lateness ~4 ms
    # instead of ~30 at half load, p99 at 200 sensors at 1 s ~2 ms instead of
    # ~20, p99 at half load ~45 ms instead of ~75 (its max longer: a few
    # stragglers wait for their group), for ~25% more CPU per tick at that low
    # load (ticks begun each at its own due time no longer gather into groups;
    # still under issue 14's budget of 0.3 CPU-ms per tick there).  60 ms
    # against 30, once a tick cost ~0.05 CPU-ms (capacity ~26,000 ticks/s):
    # p99 at half load ~40 ms instead of ~50 (3 pairs: 38-51 against 41-65),
    # at a quarter ~10 instead of ~38, the same CPU per tick: the round, the
    # publish and the delivery of a large round take more than 30 ms there.
    # (Those half- and quarter-load p99s include the benchmark's own start;
    # without it the half load reads ~5-15 ms at 0.06: bench/RESULTS.md Round 21.)
    scheduler_claim_ahead: float = 0.06
    # Apart from the least message size: spreading a round over the
    # processes keeps a slow sensor from delaying the others, gathering
    # rounds keeps a low tick rate from paying a round and a message or two
    # every min pause for a tick or two.
    tick_batch_gather: int = 32
    # The leader lock's TTL and how often the leader renews it; a standby
    # takes over within about leader_ttl of the leader's death.
    leader_ttl: float = 5.0
    leader_renew: float = 1.0
    # Processes write their heartbeat this often; it expires after 3 of them.
    heartbeat_interval: float = 2.0
    # Celery's task events (what Flower shows of each task): off, as each
    # message then costs the worker and the scheduler an event publish more.
    # Flower switches the workers' events on at run time as it starts
    # (``celery control enable_events``); on here, they are sent from the start.
    task_events: bool = False
    # The operator's token for the status page's state changes (start, stop,
    # cursor reset); empty: the page is read only.  Kept out of repr and logs.
    admin_token: str = field(default="", repr=False)
    # The launchers' consumer group on the launch stream.
    launch_group: str = "launchers"
    # Launch stream entries read per round trip.
    launch_batch: int = 100
    # A launch entry pending this long (its launcher died) is claimed by another.
    launch_claim_idle: float = 30.0
    # A run's executor renews its lease this often (a third of it); a run whose
    # lease lapsed while STARTED lost its worker and is marked FAILURE.
    run_lease: float = 15.0
    # Dead letters kept (approximately; the oldest are trimmed).
    dead_letter_max: int = 10000
    # The event stream keeps about this many entries (event sensors read it by
    # cursor: one stopped for longer than this window misses what was trimmed);
    # the launch stream keeps only what a launcher has not finished with.
    stream_max_entries: int = 1_000_000
    # Finished runs (SUCCESS, FAILURE, CANCELED) created longer ago than this
    # are deleted, record and indexes, by the launchers' housekeeping.
    run_retention_seconds: float = 7 * 24 * 3600.0
    # A run handed to the run queue this long ago and still QUEUED is handed
    # to it again (its message was lost); a run starts only once however
    # often it is delivered, so an early second message costs one no-op.
    run_resubmit_after: float = 600.0
    # Every Redis client (storage, broker) gives up on a reply after this many
    # seconds and on a connection after the other: a stalled server (paused,
    # swapping, a dead host whose packets vanish) surfaces as a timeout that
    # the process's retry loop handles, instead of blocking it indefinitely.
    redis_socket_timeout: float = 5.0
    redis_connect_timeout: float = 5.0
    # Retries of a failed run when it has no ``dagster/max_retries`` tag (the
    # deployment default, as Dagster's ``run_retries.max_retries``): 0, none.
    run_max_retries: int = 0
    # A tick's limits: a cursor larger than this many bytes, or more run
    # requests than this, fails the tick (0: no limit).
    max_cursor_bytes: int = 256 * 1024
    max_run_requests: int = 10_000
    # Back-pressure: while the tick queue holds this many messages per
    # tick-evaluating worker process or more (the processes their heartbeats
    # count; one when none), the workers are behind and the leader claims no
    # tick: the due sensors stay due and tick late once the queue drains,
    # rather than waiting in the queue until their leases lapse (0: no
    # limit).  Two: a message in each process's hands and two behind it keep
    # every process busy between the leader's rounds, and at most a few
    # thousand ticks wait (a full message is ``tick_batch_size``).
    tick_queue_limit: int = 2
    # Back-pressure: while this many run requests or more wait on the launch
    # stream, unread or unacknowledged (the launchers are behind; launched
    # entries awaiting the trim do not count), the leader claims no tick; due
    # sensors wait and are counted as deferred (0: no limit).  5,000: five times the
    # launchers' own bound of queued runs, so that under a sustained overload
    # the sensors slow down within seconds and the executors keep their
    # capacity (bench/RESULTS.md: 0.98x of capacity at 5x overload, against
    # 0.72-0.85x with 100,000, which took minutes to fill).
    launch_backlog_limit: int = 5_000
    # Runs carried per run-queue message at most: while the run queue already
    # holds this many runs, a launcher packs the runs it hands out together
    # (one Celery message costs more than a short run); with fewer waiting,
    # each run goes alone, so idle executors take them in parallel.
    run_pack_size: int = 10
    # Back-pressure: while this many runs or more are QUEUED (handed out, not
    # started), launchers read no launch requests; they wait on the launch
    # stream, and past its own limit sensors' ticks are deferred (0: no limit).
    run_queue_limit: int = 1000
    # An asset or run-status sensor stops taking new events once it has used
    # this share of its timeout, commits its cursor there, and is due again
    # at once (a backlog moves on instead of timing out again and again).
    event_budget: float = 0.5
    # A sensor evaluation may grow its process's address space by this many
    # MiB before allocations fail and its tick is a FAILURE naming the limit
    # (0: no limit).
    sensor_memory_mb: int = 4096
    # A sensor whose evaluations killed their process this many times in a
    # row is quarantined: its ticks come after a backoff that doubles with
    # each further death, up to ``quarantine_backoff_cap`` seconds.
    quarantine_after: int = 3
    quarantine_backoff_cap: float = 3600.0
    # How many ``context.has_run_key`` look-ups one tick may make (a lookout
    # extension): each is a read of Redis, so a sensor cannot loop over them.
    max_run_key_lookups: int = 100
    # Jitter, as a share of each sensor's interval (0 to 1; 0: none): a
    # sensor's ticks come up to that much later than its interval alone says,
    # by a fixed offset per sensor (its name's hash), so the sensors of one
    # interval spread out; a sensor's ``lookout/jitter_seconds`` tag overrides
    # it.  Jitter only delays: never more often than the interval.
    sensor_jitter: float = 0.0
    # On a primary with replicas: a tick commit is confirmed, and a launcher
    # launches what it read, only once this many replicas have it (Redis's
    # WAIT), so that a failover to a replica cannot forget a run key whose run
    # was launched.  A commit not confirmed within ``redis_replica_wait``
    # seconds is a FAILURE tick saying so, and its runs wait (0: no waiting,
    # a failover may lose the newest commits; README "Redis with replicas").
    redis_min_replicas: int = 0
    redis_replica_wait: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``LOOKOUT_<FIELD>`` variables, then explicit ``overrides``."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"LOOKOUT_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, raw, type(getattr(cls(), f.name)))
        settings = cls(**values)
        settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
        check_settings(settings)
        return settings

    @property
    def inflight_ttl(self) -> float:
        """A tick lease's length: a published tick waits at most this long for a
        worker, a held one runs this long past its holder's last renewal.
        """
        return self.tick_timeout + self.inflight_margin

    @property
    def lease_renew(self) -> float:
        """How often a holder renews its tick leases: a third of the margin, so a
        lease always has more than a whole evaluation (timeout and hard exit) left.
        """
        return self.inflight_margin / 3

    @property
    def lease_kept(self) -> float:
        """The least lease left with which a take-up keeps a tick's lease as its publish
        armed it: enough for a whole evaluation (timeout and hard exit) still when the
        holder's first renewal comes, up to ``lease_renew`` later.
        """
        return self.tick_timeout + self.hard_exit_after + self.lease_renew

    @property
    def hard_exit_after(self) -> float:
        """Seconds past its timeout after which an evaluation's process is ended."""
        return self.inflight_margin / 2


# Words a flag's variable may be set to, and what they mean.
_FLAGS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def _parse(name: str, raw: str, kind: type) -> Any:
    if kind is bool:
        # bool("false") is True: a flag is read from its words instead.
        flag = _FLAGS.get(raw.strip().lower())
        if flag is None:
            raise SettingsError(
                f"LOOKOUT_{name.upper()}={raw!r} is not a flag: 1, true, yes or on; "
                "0, false, no or off"
            )
        return flag
    try:
        return kind(raw.strip())
    except ValueError:
        raise SettingsError(
            f"LOOKOUT_{name.upper()}={raw!r} is not a valid {kind.__name__}"
        ) from None


# Settings that count something: at least one.
_COUNTS = (
    "tick_history",
    "schedule_limit",
    "tick_batch_size",
    "tick_batch_min",
    "tick_batch_gather",
    "launch_batch",
    "run_pack_size",
    "dead_letter_max",
    "stream_max_entries",
    "quarantine_after",
    "max_run_key_lookups",
)
# Settings that may be zero (no pause, no margin, no retry, no limit).
_MAY_BE_ZERO = (
    "scheduler_min_pause",
    "scheduler_batch_wait",
    "scheduler_merge_wait",
    "scheduler_claim_ahead",
    "inflight_margin",
    "run_max_retries",
    "max_cursor_bytes",
    "max_run_requests",
    "launch_backlog_limit",
    "run_queue_limit",
    "tick_queue_limit",
    "sensor_memory_mb",
    "tick_history_age",
    "sensor_jitter",
    "redis_min_replicas",
)
# The longest a process blocks on Redis on purpose (the launcher's and kombu's
# 1 s reads; the scheduler blocks for at most half the socket timeout); a
# socket timeout must outlast it or every such read fails.
_LONGEST_BLOCKING_READ = 1.0
# The longest lead a tick may be claimed with (and held by a worker until due).
_LONGEST_CLAIM_AHEAD = 1.0


def check_settings(settings: Settings) -> None:
    """Raise ``SettingsError`` (one line, naming the variable) for a setting no process can use.

    Called by ``Settings.from_env``, so every process checks its settings as
    it starts, before it does anything else.
    """
    for f in fields(settings):
        value = getattr(settings, f.name)
        if isinstance(value, float | int) and not isinstance(value, bool):
            _check_number(f.name, value)
    _check_redis_url(settings.redis_url)
    _check_relations(settings)


def _name(field_name: str) -> str:
    return f"LOOKOUT_{field_name.upper()}"


def _check_number(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise SettingsError(f"{_name(name)}={value!r} must be a finite number")
    if name in _MAY_BE_ZERO:
        if value < 0:
            raise SettingsError(f"{_name(name)}={value:g} must be 0 or more")
    elif name in _COUNTS:
        if value < 1:
            raise SettingsError(f"{_name(name)}={value:g} must be 1 or more")
    elif value <= 0:
        raise SettingsError(f"{_name(name)}={value:g} must be more than 0")


def _check_redis_url(url: str) -> None:
    # redis-py's own parser (the one every client uses), so that what passes
    # here connects the same way later.  The URL may hold a password: the
    # message never repeats it.
    from redis import ConnectionPool

    try:
        ConnectionPool.from_url(url)  # parses only: a pool connects on first use
    except (ValueError, TypeError) as exc:
        raise SettingsError(
            f"LOOKOUT_REDIS_URL={masked_url(url)} is not a Redis URL: {exc}"
        ) from None
    parts = urlsplit(url)
    database = parts.path.strip("/")
    if parts.scheme != "unix" and database and not database.isdigit():
        raise SettingsError(
            f"LOOKOUT_REDIS_URL names database {database!r}: a database is a number (/0)"
        )


def _check_relations(s: Settings) -> None:
    if s.scheduler_claim_ahead > _LONGEST_CLAIM_AHEAD:
        raise SettingsError(
            f"LOOKOUT_SCHEDULER_CLAIM_AHEAD={s.scheduler_claim_ahead:g} must be at most "
            f"{_LONGEST_CLAIM_AHEAD:g} s: a worker process holding a tick that long evaluates "
            "nothing else meanwhile"
        )
    if s.sensor_jitter > 1:
        raise SettingsError(
            f"LOOKOUT_SENSOR_JITTER={s.sensor_jitter:g} must be at most 1 (a share of a "
            "sensor's interval)"
        )
    if s.leader_renew * 2 > s.leader_ttl:
        raise SettingsError(
            f"LOOKOUT_LEADER_TTL={s.leader_ttl:g} must be at least twice "
            f"LOOKOUT_LEADER_RENEW={s.leader_renew:g}: the leader renews its lock that often "
            "and would lose it between two renewals"
        )
    if s.redis_socket_timeout <= _LONGEST_BLOCKING_READ:
        raise SettingsError(
            f"LOOKOUT_REDIS_SOCKET_TIMEOUT={s.redis_socket_timeout:g} must be longer than "
            f"the longest blocking read on Redis ({_LONGEST_BLOCKING_READ:g} s)"
        )
    if s.redis_min_replicas and s.redis_replica_wait >= s.redis_socket_timeout:
        raise SettingsError(
            f"LOOKOUT_REDIS_REPLICA_WAIT={s.redis_replica_wait:g} must be shorter than "
            f"LOOKOUT_REDIS_SOCKET_TIMEOUT={s.redis_socket_timeout:g}: the wait for replicas "
            "is one blocking command on Redis"
        )
