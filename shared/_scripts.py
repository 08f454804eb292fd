"""Lua scripts: each is one atomic change to several keys, with what it guarantees."""

from __future__ import annotations

# CLAIM: mark a sensor's tick as in flight, so that no second tick of it is
# evaluated while this one is queued or running (invariant 1), and since when.
# KEYS: sensor hash, inflight zset, due zset
# ARGV: sensor name, tick id, now, deadline
# Returns the tick id now in flight: ARGV[2] when claimed, another id when busy.
# A mark whose deadline has passed belongs to a dead process and is taken over.
CLAIM = """
local current = redis.call('HGET', KEYS[1], 'inflight')
if current then
  local deadline = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if deadline and tonumber(deadline) > tonumber(ARGV[3]) then
    return current
  end
end
redis.call('HSET', KEYS[1], 'inflight', ARGV[2], 'claimed_at', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return ARGV[2]
"""

# COMMIT: a tick's whole effect, all or nothing, at most once per tick id
# (invariants 2 and 3).  Only the tick that holds the in-flight mark commits;
# a redelivered or superseded tick finds the mark gone or changed and changes
# nothing.  Run keys live in the sensor's run-key hash (a field per key, at a
# third of the memory of a key each): the used ones are read with one HMGET
# per 1000 keys and the new ones claimed with one HSET, which inside this
# atomic script is the same as an HSETNX per key at a fraction of the calls;
# a key repeated within the tick counts as used after its first request.  A
# request whose key is taken is dropped, the others go to the launch stream,
# in order.  The cursor is stored unless the tick failed.  The sensor goes
# back into the due index at ARGV[6] if it is RUNNING (operator status, else
# its default).  The history is trimmed only once it outgrows its size.
# KEYS: sensor hash, ticks list, launch stream, inflight zset, due zset,
#       run-key hash
# ARGV: tick id, store cursor ("1"/"0"), cursor, record, history size,
#       next due ("" for none), sensor name, request count,
#       then per request: has run key ("1"/"0"), run key, launch entry,
#       then the tick's start (kept as last_started, which EARLIEST reads)
# Returns {1, mask} when committed, {0, ""} when the tick is not in flight.
COMMIT = """
local state = redis.call('HMGET', KEYS[1], 'inflight', 'status', 'default')
if state[1] ~= ARGV[1] then
  return {0, ''}
end
local n = tonumber(ARGV[8])
local mask = {}
local keyed = {}
for i = 1, n do
  if ARGV[6 + 3 * i] == '1' then
    keyed[#keyed + 1] = i
  end
end
local seen = {}
for first = 1, #keyed, 1000 do
  local last = math.min(first + 999, #keyed)
  local names = {}
  for j = first, last do
    names[#names + 1] = ARGV[7 + 3 * keyed[j]]
  end
  local used = redis.call('HMGET', KEYS[6], unpack(names))
  local fresh = {}
  for j = first, last do
    local key = names[j - first + 1]
    if used[j - first + 1] or seen[key] then
      mask[keyed[j]] = '0'
    else
      seen[key] = true
      fresh[#fresh + 1] = key
      fresh[#fresh + 1] = '1'
    end
  end
  if #fresh > 0 then
    redis.call('HSET', KEYS[6], unpack(fresh))
  end
end
for i = 1, n do
  if mask[i] ~= '0' then
    redis.call('XADD', KEYS[3], '*', 'd', ARGV[8 + 3 * i])
    mask[i] = '1'
  end
end
local flags = table.concat(mask)
local entry = ARGV[4] .. cmsgpack.pack(flags)
local size = tonumber(ARGV[5])
if redis.call('LPUSH', KEYS[2], entry) > size then
  redis.call('LTRIM', KEYS[2], 0, size - 1)
end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'last', entry, 'cursor', ARGV[3])
else
  redis.call('HSET', KEYS[1], 'last', entry)
end
redis.call('HSET', KEYS[1], 'last_started', ARGV[9 + 3 * n])
redis.call('HDEL', KEYS[1], 'inflight')
redis.call('ZREM', KEYS[4], ARGV[7])
if ARGV[6] ~= '' and (state[2] or state[3]) == 'RUNNING' then
  redis.call('ZADD', KEYS[5], ARGV[6], ARGV[7])
end
return {1, flags}
"""

# RELEASE: give up an in-flight mark without a tick record (a preview, or a
# tick abandoned before evaluation).  Only the holder of the mark releases it.
# KEYS: sensor hash, inflight zset
# ARGV: sensor name, tick id
RELEASE = """
if redis.call('HGET', KEYS[1], 'inflight') == ARGV[2] then
  redis.call('HDEL', KEYS[1], 'inflight')
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
return 0
"""


# RUN_CREATE: create a run once per launch request (invariant 4).  The record,
# its indexes and its first status event appear together or not at all; a
# second call for the same run id (a re-claimed launch entry) changes nothing
# and says where the existing run stands, so the caller can still enqueue it.
# KEYS: run hash, runs zset, status zset, sensor zset, events stream
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
return {1, ARGV[3], ''}
"""

# RUN_START: QUEUED -> STARTED, at most once per run, whoever delivers it: the
# status, the index move, the executor's lease and the STARTED event together.
# Safe to run twice for one owner: redis-py sends the script again when the
# reply to the first call was lost, and the owner that started the run must
# still be told so (else nobody runs it and its lease lapses).
# KEYS: run hash, lease, queued zset, started zset, events stream
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
return 'QUEUED'
"""

# RUN_FINISH: move a run from one status to another (STARTED -> SUCCESS or
# FAILURE, QUEUED -> CANCELED) exactly once, with its event; a second call
# (sent again after a lost reply) finds the run moved and changes nothing.
# With "only if the lease lapsed" it fails a STARTED run whose executor died,
# and never one whose executor is still renewing its lease.
# KEYS: run hash, lease, from-status zset, to-status zset, events stream
# ARGV: run id, from status, to status, now, error ("" for none), event,
#       only if the lease lapsed ("1"/"0")
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
return ARGV[2]
"""

# RUN_EMIT: append an event of a running run (a materialization) only while
# the caller is still its executor, so a worker that was declared dead cannot
# add events to a run that already ended.  The executor numbers its events
# 1, 2, ...; one whose number was appended already (the script sent again
# after a lost reply) is not appended twice.
# KEYS: run hash, events stream
# ARGV: owner token, event, event number
RUN_EMIT = """
local run = redis.call('HMGET', KEYS[1], 'status', 'worker', 'emitted')
if run[1] == 'STARTED' and run[2] == ARGV[1] then
  if tonumber(ARGV[3]) > (tonumber(run[3]) or 0) then
    redis.call('XADD', KEYS[2], '*', 'd', ARGV[2])
    redis.call('HSET', KEYS[1], 'emitted', ARGV[3])
  end
  return 1
end
return 0
"""

# RUN_RENEW: extend the executor's lease while it still owns the STARTED run.
# KEYS: run hash, lease
# ARGV: owner token, lease ms
RUN_RENEW = """
local run = redis.call('HMGET', KEYS[1], 'status', 'worker')
if run[1] == 'STARTED' and run[2] == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# RUN_DELETE: forget one finished run, its record and every index entry
# together, so no index ever names a run that is gone.  Only a run still in
# the finished status the caller found it in, created at or before the cutoff,
# is deleted; a second call finds nothing and changes nothing.
# KEYS: run hash, lease, runs zset, its status zset, its sensor zset
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
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
return 1
"""

RUN_SCRIPTS = {
    "run_create": RUN_CREATE,
    "run_start": RUN_START,
    "run_finish": RUN_FINISH,
    "run_emit": RUN_EMIT,
    "run_renew": RUN_RENEW,
    "run_delete": RUN_DELETE,
}


# -- scheduling ---------------------------------------------------------------
# The scheduling scripts below build sensor hash keys from a prefix passed in
# ARGV (KEYS cannot list sensors not yet known to be due): lookout runs on one
# Redis instance, not a cluster, so keys undeclared in KEYS are safe here.

# EARLIEST (a Lua function shared by the scripts below, not a script itself):
# the earliest time a sensor may start its next evaluation: ``now``, or its
# last tick's start plus its interval when that is later (invariant 1).  The
# start is the plain ``last_started`` field that COMMIT and a lost tick write:
# Redis's cmsgpack cannot read msgpack's bin type, so the last history entry
# (whose cursors are bytes) is decoded only for a sensor that has not ticked
# since ``last_started`` was introduced, and then only as well as it can be.
_EARLIEST = """
local function earliest(hash, now)
  local f = redis.call('HMGET', hash, 'last_started', 'interval')
  local interval = tonumber(f[2])
  if not interval then
    return now
  end
  local started = tonumber(f[1])
  if not started then
    local ok, record = pcall(cmsgpack.unpack, redis.call('HGET', hash, 'last') or '')
    if ok and type(record) == 'table' then
      started = tonumber(record['started_at'])
    end
  end
  if started and started + interval > now then
    return started + interval
  end
  return now
end
-- Make a triggered sensor due as soon as invariant 1 allows, never later than
-- it already is.  ``trigger`` marks it as due by request, not by status, so a
-- restart's sync does not drop a STOPPED sensor's triggered tick.
local function make_due(hash, due_key, name, now)
  local t = earliest(hash, now)
  local current = redis.call('ZSCORE', due_key, name)
  if current and tonumber(current) <= t then
    return tonumber(current)
  end
  redis.call('ZADD', due_key, t, name)
  redis.call('HSET', hash, 'trigger', '1')
  return t
end
"""

# CLAIM_DUE: one scheduling round of the leader, all or nothing.  Fencing: it
# changes nothing unless the leader lock holds the caller's token, so a deposed
# leader cannot claim (and therefore cannot publish) anything.  Once per round:
# the reply is kept under the caller's round key, and the same round sent again
# (redis-py re-sends a command whose reply was lost) gets the same reply and
# changes nothing more, so the ticks it claimed are still published; a deposed
# leader gets its round's reply too, as those ticks were claimed while it led.
# In order:
# 1. in-flight marks past their deadline (the worker died) are cleared, a
#    FAILURE record says so, and a RUNNING sensor becomes due again, not before
#    the lost tick's start plus its interval (its tick id dies with the mark,
#    so that tick's late commit is refused);
# 2. triggers that waited for an in-flight tick become due once it is over;
#    those still waiting go to the back of the line;
# 3. up to ``limit`` due sensors are claimed: a new tick id each, the in-flight
#    mark, claim time and deadline set, removed from the due index.
# Only sensors that are due, stuck or triggered are read: O(log n) per tick.
# KEYS: leader lock, due zset, inflight zset, triggered zset, round key
# ARGV: token, now, limit, deadline, tick id prefix (the round's id), sensor
#       hash key prefix, in-flight ttl, ticks list key prefix, history size
# Returns nil when not leader, else {requeued, promoted, name, tick id,
# due at, name, tick id, due at, ...}.
CLAIM_DUE = (
    _EARLIEST
    + """
local saved = redis.call('GET', KEYS[5])
if saved then
  local round = cmsgpack.unpack(saved)
  if round[1] == ARGV[5] then
    return round[2]
  end
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return false
end
local now = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local ttl = tonumber(ARGV[7])
local stuck = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #stuck, 2 do
  local name = stuck[i]
  local hash = ARGV[6] .. name
  local f = redis.call('HMGET', hash, 'inflight', 'status', 'default', 'interval')
  local began = tonumber(stuck[i + 1]) - ttl
  redis.call('ZREM', KEYS[3], name)
  redis.call('HDEL', hash, 'inflight')
  if f[1] then
    local entry = cmsgpack.pack({tick_id = f[1], sensor = name, status = 'FAILURE',
      started_at = began, ended_at = now,
      error = 'tick lost: not committed within ' .. ARGV[7] ..
        ' s of its start (its worker died, the tick queue is backed up or its message' ..
        ' was lost); ticked again'})
      .. cmsgpack.pack('')
    redis.call('LPUSH', ARGV[8] .. name, entry)
    redis.call('LTRIM', ARGV[8] .. name, 0, tonumber(ARGV[9]) - 1)
    redis.call('HSET', hash, 'last', entry, 'last_started', string.format('%.6f', began))
  end
  if (f[2] or f[3]) == 'RUNNING' then
    local t = now
    if f[4] and began + tonumber(f[4]) > t then t = began + tonumber(f[4]) end
    redis.call('ZADD', KEYS[2], 'NX', t, name)
  end
end
local promoted = 0
local pending = redis.call('ZRANGE', KEYS[4], 0, limit - 1)
for _, name in ipairs(pending) do
  local hash = ARGV[6] .. name
  if redis.call('HEXISTS', hash, 'inflight') == 1 then
    redis.call('ZADD', KEYS[4], now, name)
  else
    redis.call('ZREM', KEYS[4], name)
    make_due(hash, KEYS[2], name, now)
    promoted = promoted + 1
  end
end
local out = {#stuck / 2, promoted}
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
local n = 0
for i = 1, #due, 2 do
  local name = due[i]
  local hash = ARGV[6] .. name
  redis.call('ZREM', KEYS[2], name)
  -- A sensor already in flight (ticked by hand) is back in the index when
  -- that tick commits; it is never claimed twice.
  if redis.call('HEXISTS', hash, 'inflight') == 0 then
    n = n + 1
    local id = ARGV[5] .. string.format('%08x', n)
    redis.call('HSET', hash, 'inflight', id, 'claimed_at', ARGV[2])
    redis.call('HDEL', hash, 'trigger')
    redis.call('ZADD', KEYS[3], ARGV[4], name)
    out[#out + 1] = name
    out[#out + 1] = id
    out[#out + 1] = due[i + 1]
  end
end
redis.call('SET', KEYS[5], cmsgpack.pack({ARGV[5], out}), 'PX', math.floor(ttl * 1000) + 1)
return out
"""
)

# UNCLAIM: give back ticks the leader claimed but could not publish, so that
# they neither wait for their in-flight deadline nor read as lost.  Only a
# tick that still holds its sensor's mark is given back (one that was
# committed or superseded meanwhile is left alone): the mark and deadline go
# and the sensor is due again at its due time (or earlier, if it is already
# due earlier).  A sensor due while not RUNNING was due by a trigger: it is
# marked so again, as the claim had cleared that.
# Only for ticks whose message surely never reached the queue: a worker that
# got one could be evaluating it, and a new claim would overlap (invariant 1).
# KEYS: inflight zset, due zset
# ARGV: sensor hash key prefix, then per tick: name, tick id, due at
# Returns how many ticks were given back.
UNCLAIM = """
local given = 0
for i = 2, #ARGV, 3 do
  local name = ARGV[i]
  local hash = ARGV[1] .. name
  local f = redis.call('HMGET', hash, 'inflight', 'status', 'default')
  if f[1] == ARGV[i + 1] then
    redis.call('HDEL', hash, 'inflight')
    redis.call('ZREM', KEYS[1], name)
    if (f[2] or f[3]) ~= 'RUNNING' then
      redis.call('HSET', hash, 'trigger', '1')
    end
    local current = redis.call('ZSCORE', KEYS[2], name)
    if not current or tonumber(current) > tonumber(ARGV[i + 2]) then
      redis.call('ZADD', KEYS[2], ARGV[i + 2], name)
    end
    given = given + 1
  end
end
return given
"""

# TRIGGER: ask for a tick of one sensor now, within invariant 1.  A sensor
# with a tick in flight gets no second one: the request waits in the
# triggered zset until that tick is over.  Otherwise the sensor becomes due at
# the earliest time its interval allows (now, or its last start plus its
# interval), never later than it already was, and the leader is woken.
# KEYS: sensor hash, due zset, triggered zset, wake list
# ARGV: sensor name, now
# Returns {"unknown", ""}, {"inflight", tick id} or {"due", due time}.
TRIGGER = (
    _EARLIEST
    + """
if redis.call('HEXISTS', KEYS[1], 'default') == 0 then
  return {'unknown', ''}
end
local inflight = redis.call('HGET', KEYS[1], 'inflight')
if inflight then
  redis.call('ZADD', KEYS[3], 'NX', ARGV[2], ARGV[1])
  return {'inflight', inflight}
end
local t = make_due(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]))
redis.call('LPUSH', KEYS[4], '1')
redis.call('LTRIM', KEYS[4], 0, 0)
return {'due', string.format('%.6f', t)}
"""
)

# SYNC_SENSORS: record the code's sensors (default status, interval) and make
# each RUNNING one due unless it is in flight or due already (an existing due
# time is never pushed back, nor brought before its interval allows).  A
# sensor that is not RUNNING leaves the index, unless it was triggered.
# Fenced like CLAIM_DUE: only the leader's code decides what is scheduled, so
# a standby running other code (a rolling deploy) changes nothing.
# KEYS: leader lock, sensors set, due zset
# ARGV: token, now, sensor hash key prefix, then per sensor: name, default,
#       interval
# Returns how many sensors became due, or -1 when the caller does not lead.
SYNC_SENSORS = (
    _EARLIEST
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local now = tonumber(ARGV[2])
local added = 0
for i = 4, #ARGV, 3 do
  local name = ARGV[i]
  local hash = ARGV[3] .. name
  redis.call('HSET', hash, 'default', ARGV[i + 1], 'interval', ARGV[i + 2])
  redis.call('SADD', KEYS[2], name)
  local f = redis.call('HMGET', hash, 'status', 'inflight', 'trigger')
  local status = f[1] or ARGV[i + 1]
  if f[2] then
    -- in flight: its commit puts it back in the index
  elseif status == 'RUNNING' then
    if not redis.call('ZSCORE', KEYS[3], name) then
      redis.call('ZADD', KEYS[3], earliest(hash, now), name)
      added = added + 1
    end
  elseif not f[3] then
    redis.call('ZREM', KEYS[3], name)
  end
end
return added
"""
)

# UNSCHEDULE: take sensors the leader's code does not define out of the due
# index (their state stays).  Fenced like CLAIM_DUE: a standby running older
# code must not unschedule the sensors newer code added.
# KEYS: leader lock, due zset; ARGV: token, then sensor names.
# Returns how many left the index, or -1 when the caller does not lead.
UNSCHEDULE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local gone = 0
for i = 2, #ARGV do
  gone = gone + redis.call('ZREM', KEYS[2], ARGV[i])
end
return gone
"""

# SET_STATUS: an operator starts or stops a sensor.  A started sensor that is
# neither in flight (its commit puts it back) nor due already becomes due as
# soon as invariant 1 allows: at ``due_at``, or its last start plus its
# interval when that is later, so stopping and starting again does not tick
# it early.  A stopped one leaves the due index.
# KEYS: sensor hash, sensors set, due zset; ARGV: name, status, due at.
# Returns 1 when the sensor became due.
SET_STATUS = (
    _EARLIEST
    + """
redis.call('HSET', KEYS[1], 'status', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
if ARGV[2] ~= 'RUNNING' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 0
end
if redis.call('HEXISTS', KEYS[1], 'inflight') == 1 or redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[3], earliest(KEYS[1], tonumber(ARGV[3])), ARGV[1])
return 1
"""
)

# RENEW_LEADER: extend the leader lock only if the caller still holds it
# (compare-and-renew), so a deposed leader never extends its successor's lock.
# KEYS: leader lock; ARGV: token, ttl in ms.  Returns 1 when renewed.
RENEW_LEADER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# RELEASE_LEADER: drop the leader lock only if the caller holds it.
# KEYS: leader lock; ARGV: token.  Returns 1 when released.
RELEASE_LEADER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# BEGIN_TICK: a worker is about to evaluate a tick: move the in-flight
# deadline to its start plus the in-flight ttl, only if the tick still holds
# the mark.  Once it returns 1 the scheduler cannot re-queue the sensor while
# this evaluation may still run (invariant 1), however long the tick waited in
# the queue; once the mark moved on (0), the tick must not be evaluated.
# KEYS: sensor hash, inflight zset; ARGV: sensor name, tick id, deadline.
BEGIN_TICK = """
if redis.call('HGET', KEYS[1], 'inflight') == ARGV[2] then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  return 1
end
return 0
"""

SCHEDULER_SCRIPTS = {
    "claim_due": CLAIM_DUE,
    "trigger": TRIGGER,
    "sync_sensors": SYNC_SENSORS,
    "unschedule": UNSCHEDULE,
    "set_status": SET_STATUS,
    "unclaim": UNCLAIM,
    "renew_leader": RENEW_LEADER,
    "release_leader": RELEASE_LEADER,
    "begin_tick": BEGIN_TICK,
}


# GIVE_BACK: a worker gives back a tick it did not evaluate: it came too late
# to finish before its in-flight mark could lapse (an evaluation then could
# overlap the next tick: invariant 1), or its sensor is not defined in the
# worker's code (a rolling deploy).  Only the tick holding the mark gives it
# back; no tick record is written (the sensor did not fail), and a RUNNING
# sensor is due again as soon as its interval allows, or with "wait" ("1") no
# sooner than a whole interval from now, so that a worker that cannot
# evaluate it does not get it back at once, again and again.  A sensor not
# RUNNING is not made due (it may have been stopped meanwhile), so the tick
# of a trigger given back is dropped, not repeated.
# KEYS: sensor hash, inflight zset, due zset
# ARGV: sensor name, tick id, now, wait ("1"/"0")
# Returns the due time (a string) when given back, 0 when the tick no longer
# held the mark, "" when given back but not RUNNING (not due).
GIVE_BACK = (
    _EARLIEST
    + """
local f = redis.call('HMGET', KEYS[1], 'inflight', 'status', 'default', 'interval')
if f[1] ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[1], 'inflight')
redis.call('ZREM', KEYS[2], ARGV[1])
if (f[2] or f[3]) ~= 'RUNNING' then
  return ''
end
local now = tonumber(ARGV[3])
local t = earliest(KEYS[1], now)
if ARGV[4] == '1' and now + (tonumber(f[4]) or 30) > t then
  t = now + (tonumber(f[4]) or 30)
end
redis.call('ZADD', KEYS[3], t, ARGV[1])
return string.format('%.6f', t)
"""
)

# Every script, by the name the storage calls it with.
SCRIPTS = {
    "claim": CLAIM,
    "commit": COMMIT,
    "release": RELEASE,
    "give_back": GIVE_BACK,
    **RUN_SCRIPTS,
    **SCHEDULER_SCRIPTS,
}
