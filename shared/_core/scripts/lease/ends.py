"""A tick's end without a commit: given back, released, or its process dead."""

from __future__ import annotations

from lookout._core.scripts.lease.base import script

# GIVE_BACK: a tick not evaluated goes back, with no tick record (its sensor
# did not fail): the leader's ticks it could not publish, a process's ticks it
# stopped before evaluating (it is shutting down, it lost Redis), a sensor its
# code does not define.  Only a lease unheld or held by ``holder`` is given
# back.  The sensor is due again if RUNNING (or if a trigger claimed it): at
# ``due_at`` when given (the leader's), else as soon as its interval allows
# from ``now``, or with ``wait`` no sooner than a whole interval from now (a
# worker that cannot evaluate it does not get it back at once, again and
# again).
# KEYS: inflight zset, claimed zset, due zset
# A: hash_prefix, holder ("" for none), now (due clock), wait (bool),
#    ticks ({{name, tick id, due at or ""}, ...})
# Returns how many ticks were given back.
GIVE_BACK = script("""
local given = 0
for _, t in ipairs(A.ticks) do
  local name = t[1]
  local hash = A.hash_prefix .. name
  local f = redis.call('HMGET', hash, 'inflight', 'holder', 'trigger', 'interval', 'by_trigger')
  if f[1] == t[2] and (not f[2] or f[2] == A.holder) then
    clear_lease(hash, name)
    local at
    if t[3] ~= '' then
      at = tonumber(t[3])
    else
      at = earliest(hash, A.now)
      local wait = A.now + (tonumber(f[4]) or 30)
      if A.wait and wait > at then at = wait end
    end
    due_again(hash, KEYS[3], name, at, f[3] or f[5])
    given = given + 1
  end
end
return given
""")

# RELEASE: drop a lease without a record and without making the sensor due (a
# sensor the leader's code does not define is parked).  Only an unheld lease
# or the caller's.
# KEYS: inflight zset, claimed zset, sensor hash
# A: sensor, tick, holder ("" for none)
# Returns 1 when released.
RELEASE = script("""
local f = redis.call('HMGET', KEYS[3], 'inflight', 'holder')
if f[1] == A.tick and (not f[2] or f[2] == A.holder) then
  clear_lease(KEYS[3], A.sensor)
  return 1
end
return 0
""")

# ABANDON: the process that held ticks died (a worker's pool process killed,
# ended by its hard timeout, out of memory).  Its parent names it (the holder:
# host, pid and the job it ran; the job's next delivery has another pid), how
# it ended, and whether that may be chance (``retry``: a kill from
# outside) rather than the sensor's doing (its timeout).  The job's message
# is delivered again, so each of its held ticks goes back to published,
# ready to be begun by the next delivery.  The tick begun last was being
# evaluated: its death is noted on its lease; a death that was the sensor's
# doing, or a second one of the same tick, makes it a FAILURE saying the
# process was killed after how long and why.  Each such FAILURE counts a
# death of the sensor; after ``quarantine_after`` in a row its next tick
# waits a backoff that doubles with each (capped), so a sensor that kills
# its process cannot crash-loop the pool.
# KEYS: inflight zset, claimed zset, due zset, events stream (a FAILURE is
#       told there)
# A: hash_prefix, ticks_prefix, size, max_age, holder, cause,
#    retry (bool), ttl (s, for the next delivery), now (due clock),
#    quarantine_after, backoff_cap, ticks ({{name, tick id}, ...})
# Returns {sensor whose tick was being evaluated or "", "failed"/"retry"/""}.
ABANDON = script("""
local held = {}
local culprit = nil
local latest = -1
for _, t in ipairs(A.ticks) do
  local hash = A.hash_prefix .. t[1]
  local f = redis.call('HMGET', hash, 'inflight', 'holder', 'began')
  if f[1] == t[2] and f[2] == A.holder then
    held[#held + 1] = t
    if (tonumber(f[3]) or 0) > latest then
      latest = tonumber(f[3]) or 0
      culprit = t
    end
  end
end
if not culprit then
  return {'', ''}
end
local now = clock()
for _, t in ipairs(held) do
  redis.call('HDEL', A.hash_prefix .. t[1], 'holder', 'began')
  set_expiry(t[1], now + A.ttl)
end
local name = culprit[1]
local hash = A.hash_prefix .. name
local f = redis.call('HMGET', hash, 'trigger', 'interval', 'kills', 'deaths', 'by_trigger')
local deaths = (tonumber(f[4]) or 0) + 1
local error = string.format('killed after %.1f s: %s', now - latest, A.cause)
if A.retry and deaths < 2 then
  redis.call('HSET', hash, 'deaths', tostring(deaths), 'death', error)
  return {name, 'retry'}
end
if deaths > 1 then
  error = error .. string.format(' (its process died %d times on this tick)', deaths)
end
local kills = (tonumber(f[3]) or 0) + 1
local interval = tonumber(f[2]) or 30
local at = math.max(A.now, latest + interval)
if kills >= A.quarantine_after then
  local backoff = math.min(A.backoff_cap, interval * 2 ^ (kills - A.quarantine_after + 1))
  at = A.now + backoff
  error = error .. string.format('; quarantined: its evaluations killed their process %d' ..
    ' ticks in a row, next tick in %.0f s', kills, backoff)
end
redis.call('HSET', hash, 'kills', tostring(kills))
clear_lease(hash, name)
local entry = failure_entry(culprit[2], name, latest, now, nil, error)
write_record(hash, A.ticks_prefix .. name, entry, A.size, fmt(latest), A.max_age)
tick_failure_event(KEYS[4], name, culprit[2], now, error)
due_again(hash, KEYS[3], name, at, f[1] or f[5])
return {name, 'failed'}
""")
