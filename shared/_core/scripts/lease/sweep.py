"""The Lua helpers of a lease that ends without a commit.

A FAILURE's record and event, a sensor due again, and ``expire``, the
sweep's one transition.

Lua functions, not scripts: ``base.HELPERS`` puts them in every lease script
(the claims expire lapsed leases; ``ends.ABANDON`` fails a dead process's tick).
"""

from __future__ import annotations

SWEEP = """\
-- A FAILURE tick told on the event stream, so that another sensor can react
-- to it (a lookout extension: ``sensor_failure_sensor``): a RunEvent of kind
-- SENSOR_TICK_FAILURE naming the sensor, the tick and the error.
local function tick_failure_event(events, name, tick, at, error)
  redis.call('XADD', events, '*', 'd', cmsgpack.pack({kind = 'SENSOR_TICK_FAILURE',
    run_id = '', job_name = '', timestamp = at, sensor = name, tick_id = tick,
    message = error}))
end
local function failure_entry(tick, name, started, ended, holder, error)
  local took = math.max(0, math.floor((ended - started) * 1000000))
  return cmsgpack.pack({'F', false, started, took, false, holder or false, false,
    {i = tick, e = error}})
end
-- Due again after a tick that was not committed: a RUNNING sensor (or one a
-- trigger claimed: ``by_trigger``, its ``trigger`` as the lease held it, or
-- the ``by_trigger`` a claim of a version before set) at ``t`` or earlier if
-- it is due earlier already.
local function due_again(hash, due, name, t, by_trigger)
  local s = redis.call('HMGET', hash, 'status', 'default')
  if not running(s[1], s[2]) then
    if by_trigger ~= '1' then
      return false
    end
    redis.call('HSET', hash, 'trigger', '1')
  end
  local current = redis.call('ZSCORE', due, name)
  if not current or tonumber(current) > t then
    redis.call('ZADD', due, t, name)
  end
  return true
end
-- The sweep's one transition: a lease whose expiry passed.  A tick no
-- process began is given back without a record, due again at ``now_due``:
-- one never published (the leader failed between claim and publish), or
-- one whose message waited in the tick queue (or was lost) past its lease:
-- its sensor was not evaluated, so nothing of it failed, and a backed-up
-- queue must not write a FAILURE per tick (the scheduler counts these as
-- lapsed and logs them; its back-pressure keeps the queue short enough to
-- be taken up in time).  A tick a process began, or whose process died
-- (``death``), is a FAILURE saying which.
-- Returns 0 (nothing, or never published), 1 (a FAILURE) or 2 (published,
-- never begun: lapsed in the queue).
local function expire(hash, due, ticks, name, now_due, size, max_age, events)
  local f = redis.call('HMGET', hash, 'inflight', 'holder', 'began', 'trigger',
    'claimed_at', 'interval', 'death', 'by_trigger')
  local by_trigger = f[4] or f[8]
  local tick = f[1]
  local unpublished = tick and not f[2] and redis.call('ZSCORE', CLAIMED, round_of(tick))
  clear_lease(hash, name)
  if not tick then
    return 0
  end
  if not f[2] and not f[7] then
    due_again(hash, due, name, now_due, by_trigger)
    return unpublished and 0 or 2
  end
  local now = clock()
  local started = tonumber(f[3] or f[5]) or now
  local error
  if f[2] then
    error = string.format('tick lost: its lease lapsed %.1f s after %s began it' ..
      ' (the process was killed, paused or cut off from Redis); ticked again', now - started, f[2])
  else
    error = 'tick lost: ' .. f[7] .. '; its message did not come back before its lease' ..
      ' lapsed; ticked again'
  end
  local entry = failure_entry(tick, name, started, now, f[2], error)
  write_record(hash, ticks, entry, size, fmt(started), max_age)
  tick_failure_event(events, name, tick, now, error)
  local t = now_due
  local interval = tonumber(f[6])
  if interval and started + interval > t then t = started + interval end
  due_again(hash, due, name, t, by_trigger)
  return 1
end
"""
