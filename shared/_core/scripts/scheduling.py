"""Scripts of the scheduler: due claims fenced by the leader lock, triggers, sync, the lock."""

from __future__ import annotations

from lookout._core.scripts.lease import EARLIEST

# -- scheduling ---------------------------------------------------------------
# The scheduling scripts below build sensor hash keys from a prefix passed in
# ARGV (KEYS cannot list sensors not yet known to be due): lookout runs on one
# Redis instance, not a cluster, so keys undeclared in KEYS are safe here.

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
# time is never pushed back, nor brought before its interval allows).  One
# that never ticked (no ``last_started``) is due ``first delay`` s after now
# (jitter spreads a new deployment's first ticks; 0 without).  A sensor that
# is not RUNNING leaves the index, unless it was triggered.
# Fenced like CLAIM_DUE: only the leader's code decides what is scheduled, so
# a standby running other code (a rolling deploy) changes nothing.
# KEYS: leader lock, sensors set, due zset
# ARGV: token, now, sensor hash key prefix, then per sensor: name, default,
#       interval, first delay
# Returns how many sensors became due, or -1 when the caller does not lead.
SYNC_SENSORS = (
    EARLIEST
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local now = tonumber(ARGV[2])
local added = 0
for i = 4, #ARGV, 4 do
  local name = ARGV[i]
  local hash = ARGV[3] .. name
  redis.call('HSET', hash, 'default', ARGV[i + 1], 'interval', ARGV[i + 2])
  redis.call('SADD', KEYS[2], name)
  local f = redis.call('HMGET', hash, 'status', 'inflight', 'trigger', 'last_started')
  local status = f[1] or ARGV[i + 1]
  if f[2] then
    -- in flight: its commit puts it back in the index
  elseif status == 'RUNNING' then
    if not redis.call('ZSCORE', KEYS[3], name) then
      local at = earliest(hash, now)
      if not f[4] then
        at = now + tonumber(ARGV[i + 3])
      end
      redis.call('ZADD', KEYS[3], at, name)
      added = added + 1
    end
  elseif not f[3] then
    redis.call('ZREM', KEYS[3], name)
  end
end
return added
"""
)

# SYNC_SCHEDULES: record the code's schedules (default status; interval "0",
# so EARLIEST never delays them; ``cron``: their cron strings and time zone)
# and put each RUNNING one that is idle in the due index at its next cron
# fire time, which the caller computes (Lua cannot parse cron).  An existing
# due time is kept, even one long past: after downtime the schedule is due at
# once and its tick runs the most recent missed time only (the worker picks
# it), as Dagster does.  A schedule whose cron or time zone changed (a new
# deploy) is due at its new next fire time instead.  A schedule that is not
# RUNNING leaves the index, unless it was triggered.  Fenced like CLAIM_DUE.
# KEYS: leader lock, schedules set, due zset
# ARGV: token, sensor hash key prefix, then per schedule: name, default,
#       next fire time, cron and time zone (one string)
# Returns how many schedules became due, or -1 when the caller does not lead.
SYNC_SCHEDULES = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local added = 0
for i = 3, #ARGV, 4 do
  local name = ARGV[i]
  local hash = ARGV[2] .. name
  local f = redis.call('HMGET', hash, 'status', 'inflight', 'trigger', 'cron')
  redis.call('HSET', hash, 'default', ARGV[i + 1], 'interval', '0', 'cron', ARGV[i + 3])
  redis.call('SADD', KEYS[2], name)
  local status = f[1] or ARGV[i + 1]
  if f[2] then
    -- in flight: its commit puts it back in the index
  elseif status == 'RUNNING' then
    local due = redis.call('ZSCORE', KEYS[3], name)
    if not due or (f[4] and f[4] ~= ARGV[i + 3]) then
      redis.call('ZADD', KEYS[3], ARGV[i + 2], name)
      if not due then
        added = added + 1
      end
    end
  elseif not f[3] then
    redis.call('ZREM', KEYS[3], name)
  end
end
return added
"""

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
    "trigger": TRIGGER,
    "sync_sensors": SYNC_SENSORS,
    "sync_schedules": SYNC_SCHEDULES,
    "unschedule": UNSCHEDULE,
    "set_status": SET_STATUS,
    "renew_leader": RENEW_LEADER,
    "release_leader": RELEASE_LEADER,
}
