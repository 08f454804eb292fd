"""The Redis key layout: every key lookout uses is named here and only here.

With the default prefix ``lookout:`` (``Settings.key_prefix``):

==============================  ======  ==========================================
key                             type    holds
==============================  ======  ==========================================
lookout:sensor:{name}           hash    status (operator-set RUNNING/STOPPED),
                                        default (the code's default_status),
                                        cursor (msgpack), inflight (tick id of the
                                        tick queued or running), claimed_at (when
                                        that tick was claimed, unix s), last (the
                                        last tick's history entry), last_started
                                        (that tick's start, unix s: what the
                                        minimum interval counts from), interval,
                                        trigger (due by a trigger, not by status),
                                        evaluator ("{tick id}|{process}": who
                                        evaluates the tick in flight), payload
                                        (a trigger's packed payload, waiting for
                                        the next tick to read it)
lookout:sensors                 set     names of every sensor ever synced
lookout:ticks:{name}            list    tick history entries, newest first, trimmed
                                        to ``Settings.tick_history``; an entry is a
                                        msgpack TickRecord followed by a msgpack
                                        string of '1'/'0' per request (accepted or
                                        dropped), written by the commit script
lookout:runkeys:{name}          hash    run key -> "1" for every run key the sensor
                                        has used; the commit script sets a key only
                                        if absent: the global dedupe (invariant 3)
lookout:runkeys:push:{source}   hash    run key -> request id of its launch, for
                                        runs pushed through the API by a push
                                        source (a pseudo-sensor; default "api")
lookout:due                     zset    sensor name -> next due time (unix s), for
                                        RUNNING sensors with no tick in flight, and
                                        STOPPED ones a trigger made due
lookout:inflight                zset    sensor name -> time after which its
                                        in-flight tick counts as lost
lookout:launch                  stream  committed RunRequests, field ``d`` = msgpack
                                        LaunchRequest
lookout:events                  stream  run status changes and asset
                                        materializations, field ``d`` = msgpack
                                        RunEvent; event sensors read it by cursor
lookout:run:{id}                hash    one run: ``d`` (msgpack RunRecord as
                                        created), status, started_at, ended_at,
                                        error, worker, enqueued (when it was
                                        last handed to the run queue, unix s),
                                        emitted (events its executor appended)
lookout:run:{id}:lease          string  the executing worker's token, with a TTL
                                        it renews; gone = the executor died
lookout:runs                    zset    run id -> created_at: every run
lookout:runs:status:{status}    zset    run id -> created_at, per run status
lookout:runs:sensor:{name}      zset    run id -> created_at, per launching sensor
lookout:deadletter              stream  messages no consumer could read, field
                                        ``d`` = msgpack DeadLetter (source,
                                        reason, raw payload); capped
lookout:triggered               zset    sensor name -> time of a trigger that
                                        arrived while a tick was in flight; the
                                        scheduler makes it due once that tick ends
lookout:scheduler:leader        string  the leading scheduler's random token, with
                                        a TTL the leader renews (the fencing lock)
lookout:scheduler:wake          list    at most one element: pushed to wake the
                                        leading scheduler early (BLPOP)
lookout:scheduler:round:{token} string  a leader's last claiming round: msgpack
                                        [round id, reply], so that a round sent
                                        twice (a lost reply) claims once; expires
                                        after the in-flight ttl
lookout:process:{id}            hash    one live process's heartbeat: role, host,
                                        pid, version, started_at, last_seen,
                                        leader; expires unless renewed
lookout:processes               zset    process id -> last heartbeat (unix s): the
                                        index of the hashes above
lookout:celery:{queue}          list    Celery's (kombu's) messages waiting in a
                                        queue; priority p > 0 in {queue}\\x06\\x16{p}
                                        (written by kombu, read by the monitor)
lookout:celery:unacked          hash    kombu: messages delivered to a worker and
                                        not yet acknowledged, with their queue
==============================  ======  ==========================================

The push API's ``PushStore`` claims a pushed run key in ``runkeys:push:*`` and
appends its request to ``launch`` in one step (push_launch); a tick's commit
is followed by removing the trigger ``payload`` it read (clear_payload).

Which repository of ``lookout._core.storage`` changes them (scripts in brackets):
``SensorStore`` the sensor hash's code defaults and cursor, ``sensors``, a
started sensor's ``due`` entry (set_status) and ``runkeys`` resets;
``TickLedger`` a tick's life on the sensor hash, ``inflight`` and ``due``
(claim, release, give_back, begin_eval) and its commit to ``ticks``,
``runkeys`` and ``launch`` (commit); ``ScheduleStore`` ``due``, ``inflight``,
``triggered``, ``scheduler:wake``, ``scheduler:round`` and the claimed
sensors' hashes (sync_sensors, unschedule, claim_due, unclaim, trigger), the
leader's changes fenced by ``scheduler:leader``, which ``LeaderStore`` holds;
``RunStore`` ``run:*`` and ``runs*``, each status move with its ``events``
entry (run_*); ``LaunchStream`` the launchers' group on ``launch``;
``EventStream`` ``events``; ``ProcessStore`` ``process:*`` and ``processes``;
``DeadLetterStore`` ``deadletter``.  ``MetricsView`` only reads, kombu's keys too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Builds every key from the deployment's prefix."""

    prefix: str = "lookout:"

    def sensor(self, name: str) -> str:
        return f"{self.prefix}sensor:{name}"

    @property
    def sensors(self) -> str:
        return f"{self.prefix}sensors"

    def ticks(self, name: str) -> str:
        return f"{self.prefix}ticks:{name}"

    def run_keys(self, sensor: str) -> str:
        return f"{self.prefix}runkeys:{sensor}"

    @property
    def due(self) -> str:
        return f"{self.prefix}due"

    @property
    def inflight(self) -> str:
        return f"{self.prefix}inflight"

    @property
    def launch(self) -> str:
        return f"{self.prefix}launch"

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    def run(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}"

    def run_lease(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}:lease"

    @property
    def runs(self) -> str:
        return f"{self.prefix}runs"

    def runs_by_status(self, status: str) -> str:
        return f"{self.prefix}runs:status:{status}"

    def runs_by_sensor(self, sensor: str) -> str:
        return f"{self.prefix}runs:sensor:{sensor}"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}deadletter"

    @property
    def triggered(self) -> str:
        return f"{self.prefix}triggered"

    @property
    def leader(self) -> str:
        return f"{self.prefix}scheduler:leader"

    @property
    def wake(self) -> str:
        return f"{self.prefix}scheduler:wake"

    def claim_round(self, token: str) -> str:
        return f"{self.prefix}scheduler:round:{token}"

    def process(self, process_id: str) -> str:
        return f"{self.prefix}process:{process_id}"

    @property
    def processes(self) -> str:
        return f"{self.prefix}processes"

    @property
    def celery_prefix(self) -> str:
        """Celery's ``global_keyprefix``: kombu puts it before every key it writes."""
        return f"{self.prefix}celery:"

    def celery_queue(self, queue: str) -> str:
        return f"{self.celery_prefix}{queue}"

    @property
    def celery_unacked(self) -> str:
        return f"{self.celery_prefix}unacked"
