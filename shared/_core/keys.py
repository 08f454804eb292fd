"""The Redis key layout: every key lookout uses is named here and only here.

With the default prefix ``lookout:`` (``Settings.key_prefix``):

==============================  ======  ==========================================
key                             type    holds
==============================  ======  ==========================================
lookout:sensor:{name}           hash    status (operator-set RUNNING/STOPPED),
                                        default (the code's default_status),
                                        cursor (msgpack), last_started (the last
                                        tick's start, unix s: what the minimum
                                        interval counts from; the tick itself is
                                        the head of ``ticks:{name}``), ends_from
                                        (whole unix s no history entry ended
                                        before: scripts.lease), interval,
                                        trigger (due by a trigger, not by
                                        status; kept through the tick it asked
                                        for); the tick lease:
                                        inflight (tick id), holder ("{host}:{pid}:
                                        {job}" once begun, at most 64 bytes:
                                        workers.batch.holder_name), began (Redis time),
                                        claimed_at (the claimer's clock, shown),
                                        deaths, death; and
                                        last_commit (16 hex digits of the SHA-1 of
                                        "{holder}" when the history's head names
                                        the tick, else of "{tick id} {holder}":
                                        scripts.lease), last_flags (the last
                                        commit, answered again to a resend; short,
                                        so the hash stays a listpack), kills (process
                                        deaths in a row: the quarantine),
                                        payload (a trigger's packed payload,
                                        waiting for the next tick to read it)
lookout:sensors                 set     names of every sensor ever synced
lookout:schedules               set     names of every schedule ever synced; a
                                        schedule's state lives in the same
                                        ``sensor:{name}`` hash as a sensor's
                                        (Dagster forbids a sensor and a
                                        schedule of one name), with interval
                                        "0" and ``cron`` (its cron strings and
                                        time zone, as last synced): its due
                                        time is its next cron fire time,
                                        computed in Python
lookout:ticks:{name}            list    tick history entries, newest first (the
                                        head is the last tick), kept to
                                        ``Settings.tick_history`` entries and
                                        ``tick_history_age`` s; an entry is a compact
                                        msgpack record (storage.history; a run of
                                        like SKIPPED ticks is one record with its
                                        count), its cursors if any, and a msgpack
                                        string of '1'/'0' per request (accepted or
                                        dropped); written by the lease scripts'
                                        write_record
lookout:runkeys:{name}          hash    run key -> "1" for every run key the sensor
                                        has used; the commit script sets a key only
                                        if absent: the global dedupe (invariant 3).
                                        A sensor with a run-key lifecycle (lookout's
                                        rerun_failed_run_keys, run_key_ttl_seconds)
                                        stores the run id the key launched instead,
                                        and takes the key again once that run failed
                                        (scripts/run_keys.py)
lookout:runkeytimes:{name}      zset    run key -> when it was taken (Redis time),
                                        for a sensor with run_key_ttl_seconds only:
                                        older keys are forgotten by its commits
                                        A schedule's keys are "{scheduled time,
                                        UTC ISO}" or "{that time}|{user's run
                                        key}": one run per scheduled time and key
lookout:partitions:{def name}   zset    a DynamicPartitionsDefinition's keys ->
                                        the order they were added (the last
                                        score + 1); changed by a tick's commit
                                        (SensorResult.dynamic_partitions_requests)
                                        or ``instance.add_dynamic_partitions``
lookout:runkeys:push:{source}   hash    run key -> request id of its launch, for
                                        runs pushed through the API by a push
                                        source (a pseudo-sensor; default "api")
lookout:due                     zset    sensor name -> next due time (unix s), for
                                        RUNNING sensors with no tick in flight, and
                                        STOPPED ones a trigger made due
lookout:inflight                zset    sensor name -> its tick lease's expiry
                                        (Redis time, unix s): the sweep's index
lookout:claimed                 zset    claiming round -> when it may leave
                                        (Redis time, long after its ticks'
                                        leases lapsed) of a round the leader
                                        claimed and has not yet published (its
                                        ticks' ids: the round, then 8 hex
                                        digits): the sweep gives such a tick
                                        back without a record
lookout:published               zset    claiming round -> the lease expiry its
                                        publish gave its ticks (Redis time),
                                        until then: a take-up soon after the
                                        publish keeps those leases as they are
lookout:deferred                string  how many due ticks the leader put back
                                        because the launch stream was over its
                                        limit (a counter, for the metrics)
lookout:lapsed                  string  how many published ticks the sweep gave
                                        back because no worker began them before
                                        their leases lapsed (a counter, for the
                                        metrics; such a tick has no record)
lookout:launch                  stream  committed RunRequests, field ``d`` = msgpack
                                        LaunchRequest
lookout:events                  stream  run status changes and asset events (of
                                        runs, and reported by sensors' ticks), and
                                        sensors' FAILURE ticks (SENSOR_TICK_FAILURE,
                                        appended by the lease script that fails it),
                                        field ``d`` = msgpack RunEvent; event
                                        sensors read it by cursor.  Trimmed, never
                                        deleted: the asset streams reuse its ids,
                                        which must keep ascending
lookout:asset:{key}:materialized
                                stream  one asset's materializations (``key`` as
                                        ``a/b``): each ``events`` entry of the asset
                                        again, under the SAME entry id, field ``d``
                                        = msgpack RunEvent; capped at about
                                        ``scripts.asset_index.ASSET_EVENTS_KEPT``
                                        entries.  Appended in the script that
                                        appends to ``events`` (append_asset_event),
                                        so multi-asset sensors and instance queries
                                        read one asset after a cursor without
                                        reading the other assets' events
lookout:asset:{key}:observed    stream  the same, for the asset's observations
lookout:asset:{key}:partitions  hash    partition -> entry id of the asset's newest
                                        materialization of it (never trimmed:
                                        ``all_partitions_materialized``)
lookout:run:{id}                hash    one run: ``d`` (msgpack RunRecord as
                                        created), status, started_at, ended_at,
                                        error, worker, enqueued (when it was
                                        last handed to the run queue, unix s),
                                        emitted (events its executor appended),
                                        will_retry ('1'/'0', set on FAILURE),
                                        retry_run_id (its retry, once created),
                                        succeeded (msgpack list: its steps that
                                        succeeded, for a FROM_FAILURE retry)
lookout:run:{id}:lease          string  the executing worker's token, with a TTL
                                        it renews; gone = the executor died
lookout:run:{id}:logs           string  msgpack list of the run's log and event
                                        lines (bounded), set as its lease is
                                        renewed and when it ends
lookout:runs                    zset    run id -> created_at: every run
lookout:runs:status:{status}    zset    run id -> created_at, per run status
lookout:runs:sensor:{name}      zset    run id -> created_at, per launching sensor
lookout:runs:retry              zset    failed run id -> when it failed, for each
                                        FAILURE whose retry (``dagster/max_retries``)
                                        is not launched yet; a launcher removes it
                                        once the retry run is enqueued
lookout:counters                hash    counters that only grow, kept in Redis so
                                        every monitor reports the same figures
                                        and a restart resets none:
                                        ``s:{sensor}`` a sensor's counts (tick
                                        commit), "{letter}{count}" pairs:
                                        committed ticks by status letter
                                        (storage.history), ``q`` run requests
                                        given, ``d`` those dropped for a used
                                        run key (absent until one is); versions
                                        before kept ``ticks:{sensor}:{status}``,
                                        ``requests:{sensor}``, ``dropped:{sensor}``
                                        (still read, added);
                                        ``runs:{status}`` runs that reached the
                                        status (run_create/start/finish/retry),
                                        ``created`` runs created (run_create,
                                        run_retry)
lookout:deadletter              stream  messages no consumer could read, field
                                        ``d`` = msgpack DeadLetter (source,
                                        reason, raw payload); capped
lookout:replicas:probe          string  a counter every wait for replicas increments:
                                        the write whose replication WAIT awaits
                                        (its offset follows every write before it)
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
``TickLedger`` the tick lease, the only writer of its fields, of
``inflight``, ``claimed`` and ``published`` (lease_*: claim, claim_due with its sweep,
publish, begin, renew, commit, give_back, release, abandon), a tick's commit
to ``ticks``, ``runkeys``, ``runkeytimes``, ``launch``, ``due``, ``counters`` and
``partitions:*`` and, for the asset events a sensor reports, ``events`` and
``asset:*``, ``events`` for each FAILURE tick (commit, expire, abandon),
``scheduler:round``, ``deferred`` and ``lapsed``, and reads the tick queue's
length (Celery's list) in claim_due;
``DynamicPartitionStore`` reads ``partitions:*`` and adds or deletes
outside ticks; ``ScheduleStore`` ``due``, ``triggered``, ``schedules``,
``scheduler:wake`` (sync_sensors, sync_schedules, unschedule, trigger), the
leader's changes fenced by ``scheduler:leader``, which ``LeaderStore`` holds;
``RunStore`` ``run:*`` and ``runs*``, each status move with its ``events``
entry and its ``counters`` field (run_*), a run's asset events with their ``asset:*`` entries
(run_emit); ``LaunchStream`` the launchers' group on ``launch``;
``EventStream`` ``events`` (an entry no reader can decode it moves to
``deadletter``: bury_event); ``ProcessStore`` ``process:*`` and
``processes``;
``DeadLetterStore`` ``deadletter``; any repository that waits for
replicas increments ``replicas:probe``.  ``MetricsView`` only reads, kombu's keys
too, and ``AssetEventLog`` only reads ``asset:*``.
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

    @property
    def schedules(self) -> str:
        return f"{self.prefix}schedules"

    def partitions(self, partitions_def_name: str) -> str:
        return f"{self.prefix}partitions:{partitions_def_name}"

    def ticks(self, name: str) -> str:
        return f"{self.prefix}ticks:{name}"

    def run_keys(self, sensor: str) -> str:
        return f"{self.prefix}runkeys:{sensor}"

    def run_key_times(self, sensor: str) -> str:
        return f"{self.prefix}runkeytimes:{sensor}"

    @property
    def due(self) -> str:
        return f"{self.prefix}due"

    @property
    def inflight(self) -> str:
        return f"{self.prefix}inflight"

    @property
    def deferred(self) -> str:
        return f"{self.prefix}deferred"

    @property
    def lapsed(self) -> str:
        return f"{self.prefix}lapsed"

    @property
    def claimed(self) -> str:
        return f"{self.prefix}claimed"

    @property
    def published(self) -> str:
        return f"{self.prefix}published"

    @property
    def launch(self) -> str:
        return f"{self.prefix}launch"

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    def asset_events(self, asset_key: str, observed: bool = False) -> str:
        """One asset's materializations (or, ``observed``, observations); key as ``a/b``."""
        return f"{self.prefix}asset:{asset_key}:{'observed' if observed else 'materialized'}"

    def asset_partitions(self, asset_key: str) -> str:
        return f"{self.prefix}asset:{asset_key}:partitions"

    def run(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}"

    def run_lease(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}:lease"

    @property
    def runs(self) -> str:
        return f"{self.prefix}runs"

    def run_logs(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}:logs"

    @property
    def counters(self) -> str:
        return f"{self.prefix}counters"

    def runs_by_status(self, status: str) -> str:
        return f"{self.prefix}runs:status:{status}"

    def runs_by_sensor(self, sensor: str) -> str:
        return f"{self.prefix}runs:sensor:{sensor}"

    @property
    def runs_to_retry(self) -> str:
        return f"{self.prefix}runs:retry"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}deadletter"

    @property
    def replica_probe(self) -> str:
        """The counter a wait for replicas writes before it waits (see ``Repository``)."""
        return f"{self.prefix}replicas:probe"

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
