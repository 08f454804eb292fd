"""Scripts of the scheduler: due claims fenced by the leader lock, triggers, sync, the lock."""

from __future__ import annotations

# -- scheduling ---------------------------------------------------------------
# The scheduling scripts below build sensor hash keys from a prefix passed in
# ARGV (KEYS cannot list sensors not yet known to be due): lookout runs on one
# Redis instance, not a cluster, so keys undeclared in KEYS are safe here.

# EARLIEST (a Lua function shared by the scripts below, not a script itself):
# the earliest time a sensor may start its next evaluation: ``now``, or its
# last tick's start plus its interval when that is later (invariant 1).  The
# start is the plain ``last_started`` field that COMMIT and a lost tick write
# (not read from the last history entry: Redis's cmsgpack cannot decode
# msgpack's bin type, which the entry's cursors are).
EARLIEST = """
local function earliest(hash, now)
  local f = redis.call('HMGET', hash, 'last_started', 'interval')
  local interval = tonumber(f[2])
  if not interval then
    return now
  end
  local started = tonumber(f[1])
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
    EARLIEST
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
# interval), never later than it already was, and the leader is woken.  A
# payload (optional ARGV[3], opaque bytes) is stored on the sensor hash for
# the next tick to read, the newest replacing one not yet read; the tick that
# read it removes it once committed (``TickLedger.commit``).
# KEYS: sensor hash, due zset, triggered zset, wake list
# ARGV: sensor name, now[, payload]
# Returns {"unknown", ""}, {"inflight", tick id} or {"due", due time}.
TRIGGER = (
    EARLIEST
    + """
if redis.call('HEXISTS', KEYS[1], 'default') == 0 then
  return {'unknown', ''}
end
if ARGV[3] then
  redis.call('HSET', KEYS[1], 'payload', ARGV[3])
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
    EARLIEST
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
    EARLIEST
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

SCHEDULER_SCRIPTS = {
    "claim_due": CLAIM_DUE,
    "trigger": TRIGGER,
    "sync_sensors": SYNC_SENSORS,
    "unschedule": UNSCHEDULE,
    "set_status": SET_STATUS,
    "unclaim": UNCLAIM,
    "renew_leader": RENEW_LEADER,
    "release_leader": RELEASE_LEADER,
}
