"""Scripts of a run's life: created once, started once, finished once, trimmed."""

from __future__ import annotations

from lookout._core.scripts.asset_index import APPEND_ASSET_EVENT

# RUN_CREATE: create a run once per launch request (invariant 4).  The record,
# its indexes and its first status event appear together or not at all; a
# second call for the same run id (a re-claimed launch entry) changes nothing
# and says where the existing run stands, so the caller can still enqueue it.
# Each run reaching a status counts once in the counters hash (``runs:<status>``),
# and each run created once (``created``, as RUN_RETRY's runs do).
# KEYS: run hash, runs zset, status zset, sensor zset, events stream, counters
# ARGV: run id, created_at, status, record, event, has sensor ("1"/"0"),
#       error ("" for none)
# Returns {1, status, ""} when created, {0, status, enqueued} when it existed.
RUN_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  local found = redis.call('HMGET', KEYS[1], 'status', 'enqueued')
  return {0, found[1] or '', found[2] or ''}
end
redis.call('HSET', KEYS[1], 'd', ARGV[4], 'status', ARGV[3], 'created_at', ARGV[2])
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[1], 'error', ARGV[7], 'ended_at', ARGV[2])
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
end
redis.call('XADD', KEYS[5], '*', 'd', ARGV[5])
redis.call('HINCRBY', KEYS[6], 'runs:' .. ARGV[3], 1)
redis.call('HINCRBY', KEYS[6], 'created', 1)
return {1, ARGV[3], ''}
"""

# RUN_START: QUEUED -> STARTED, at most once per run, whoever delivers it: the
# status, the index move, the executor's lease and the STARTED event together.
# Safe to run twice for one owner: redis-py sends the script again when the
# reply to the first call was lost, and the owner that started the run must
# still be told so (else nobody runs it and its lease lapses).
# KEYS: run hash, lease, queued zset, started zset, events stream, counters
# ARGV: run id, now, owner token, lease ms, event
# Returns the status found: "QUEUED" means this caller started the run.
RUN_START = """
local run = redis.call('HMGET', KEYS[1], 'status', 'worker')
local status = run[1]
if status == 'STARTED' and run[2] == ARGV[3] then
  return 'QUEUED'
end
if status ~= 'QUEUED' then
  return status or ''
end
local created = redis.call('HGET', KEYS[1], 'created_at')
redis.call('HSET', KEYS[1], 'status', 'STARTED', 'started_at', ARGV[2], 'worker', ARGV[3])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], created, ARGV[1])
redis.call('XADD', KEYS[5], '*', 'd', ARGV[5])
redis.call('HINCRBY', KEYS[6], 'runs:STARTED', 1)
return 'QUEUED'
"""

# RUN_FINISH: move a run from one status to another (STARTED -> SUCCESS or
# FAILURE, QUEUED -> CANCELED) exactly once, with its event; a second call
# (sent again after a lost reply) finds the run moved and changes nothing.
# With "only if the lease lapsed" it fails a STARTED run whose executor died,
# and never one whose executor is still renewing its lease.  A run that fails
# records whether it will be retried (Dagster's dagster/will_retry) with the
# move, and one that will is put on the retry list in the same step, so a
# failure is never left without its retry nor retried without failing.
# The run's log lines, when given, are kept with the move (its logs key).
# KEYS: run hash, lease, from-status zset, to-status zset, events stream,
#       retry zset, logs, counters
# ARGV: run id, from status, to status, now, error ("" for none), event,
#       only if the lease lapsed ("1"/"0"), will retry ("1"/"0", "" unsaid),
#       the steps that succeeded (msgpack list, "" unknown; kept for a retry),
#       log lines (msgpack list, "" for none)
# Returns the status found ("LEASED" when the lease is alive): equal to the
# from status when this call made the change.
RUN_FINISH = """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= ARGV[2] then
  return status or ''
end
if ARGV[7] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then
  return 'LEASED'
end
local created = redis.call('HGET', KEYS[1], 'created_at')
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'ended_at', ARGV[4])
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'error', ARGV[5])
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], created, ARGV[1])
redis.call('XADD', KEYS[5], '*', 'd', ARGV[6])
redis.call('HINCRBY', KEYS[8], 'runs:' .. ARGV[3], 1)
if ARGV[10] ~= '' then
  redis.call('SET', KEYS[7], ARGV[10])
end
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[1], 'will_retry', ARGV[8])
  if ARGV[8] == '1' then
    redis.call('ZADD', KEYS[6], ARGV[4], ARGV[1])
    if ARGV[9] ~= '' then
      redis.call('HSET', KEYS[1], 'succeeded', ARGV[9])
    end
  end
end
return ARGV[2]
"""

# RUN_RETRY: create the retry of a failed run, once per (failed run, attempt):
# the retry's id is derived from both, and the failed run remembers it.  The
# decision is checked and the run created in one step: only a run still
# FAILURE, marked to be retried, with no retry yet, gets one; a second call
# (a launcher killed after the first, or two launchers at once) creates
# nothing and says where the retry stands, so the caller can still enqueue
# it.  A failed run that gets no retry (it is gone, or not to be retried)
# leaves the retry list here; one that got it leaves once it is enqueued.
# KEYS: failed run hash, retry run hash, runs zset, QUEUED zset, sensor zset,
#       events stream, retry zset, counters
# ARGV: failed run id, retry run id, created_at, retry record, QUEUED event,
#       has sensor ("1"/"0")
# Returns {1, "QUEUED", ""} when created, {0, status, enqueued} when it
# existed, {-1, failed run's status, ""} when there is nothing to retry.
RUN_RETRY = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  local found = redis.call('HMGET', KEYS[2], 'status', 'enqueued')
  return {0, found[1] or '', found[2] or ''}
end
local failed = redis.call('HMGET', KEYS[1], 'status', 'will_retry', 'retry_run_id')
if failed[1] ~= 'FAILURE' or failed[2] ~= '1' or failed[3] then
  redis.call('ZREM', KEYS[7], ARGV[1])
  return {-1, failed[1] or '', ''}
end
redis.call('HSET', KEYS[2], 'd', ARGV[4], 'status', 'QUEUED', 'created_at', ARGV[3])
redis.call('HSET', KEYS[1], 'retry_run_id', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[5], ARGV[3], ARGV[2])
end
redis.call('XADD', KEYS[6], '*', 'd', ARGV[5])
redis.call('HINCRBY', KEYS[8], 'runs:QUEUED', 1)
redis.call('HINCRBY', KEYS[8], 'created', 1)
return {1, 'QUEUED', ''}
"""

# RUN_EMIT: append an event of a running run (a materialization) only while
# the caller is still its executor, so a worker that was declared dead cannot
# add events to a run that already ended.  The executor numbers its events
# 1, 2, ...; one whose number was appended already (the script sent again
# after a lost reply) is not appended twice.  An asset event goes to its
# asset's stream and partitions hash too (append_asset_event).
# KEYS: run hash, events stream, then for an asset event: its asset stream,
#       its asset's partitions hash
# ARGV: owner token, event, event number, partition ("" for none)
RUN_EMIT = (
    APPEND_ASSET_EVENT
    + """
local run = redis.call('HMGET', KEYS[1], 'status', 'worker', 'emitted')
if run[1] == 'STARTED' and run[2] == ARGV[1] then
  if tonumber(ARGV[3]) > (tonumber(run[3]) or 0) then
    if KEYS[3] then
      append_asset_event(KEYS[2], KEYS[3], KEYS[4], ARGV[2], ARGV[4] or '')
    else
      redis.call('XADD', KEYS[2], '*', 'd', ARGV[2])
    end
    redis.call('HSET', KEYS[1], 'emitted', ARGV[3])
  end
  return 1
end
return 0
"""
)

# RUN_RENEW: extend the executor's lease while it still owns the STARTED run,
# and keep its log lines so far (when given), so a running run's logs can be
# read; once the run ended (RUN_FINISH keeps the last lines) nothing is written.
# KEYS: run hash, lease, logs
# ARGV: owner token, lease ms, log lines (msgpack list; "" or absent: unchanged)
RUN_RENEW = """
local run = redis.call('HMGET', KEYS[1], 'status', 'worker')
if run[1] == 'STARTED' and run[2] == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  if ARGV[3] and ARGV[3] ~= '' then
    redis.call('SET', KEYS[3], ARGV[3])
  end
  return 1
end
return 0
"""

# RUN_DELETE: forget one finished run, its record and every index entry
# together, so no index ever names a run that is gone.  Only a run still in
# the finished status the caller found it in, created at or before the cutoff,
# is deleted; a second call finds nothing and changes nothing.
# KEYS: run hash, lease, runs zset, its status zset, its sensor zset, its logs
# ARGV: run id, status, cutoff (created_at)
# Returns 1 when this call deleted the run.
RUN_DELETE = """
local run = redis.call('HMGET', KEYS[1], 'status', 'created_at')
if not run[1] then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
  return 0
end
if run[1] ~= ARGV[2] or tonumber(run[2]) > tonumber(ARGV[3]) then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[6])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
return 1
"""

# BURY_EVENT: an event-stream entry no reader can decode leaves the stream
# for the dead-letter stream, once: every event sensor that meets it skips
# it, and only the reader whose XDEL removed it writes the letter.
# KEYS: event stream, dead-letter stream
# ARGV: entry id, the dead letter (msgpack), dead letters kept (approximate)
# Returns 1 when this call moved it.
BURY_EVENT = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'd', ARGV[2])
  return 1
end
return 0
"""

RUN_SCRIPTS = {
    "bury_event": BURY_EVENT,
    "run_create": RUN_CREATE,
    "run_start": RUN_START,
    "run_finish": RUN_FINISH,
    "run_retry": RUN_RETRY,
    "run_emit": RUN_EMIT,
    "run_renew": RUN_RENEW,
    "run_delete": RUN_DELETE,
}
