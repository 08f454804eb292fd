"""The Lua every lease script starts with: its named arguments and shared helpers.

The transitions share the lease's own helpers here, the history's in
``history`` and the sweep's in ``sweep``; ``script`` puts them all before a body.
"""

from __future__ import annotations

from lookout._core.scripts.lease.history import HISTORY
from lookout._core.scripts.lease.sweep import SWEEP

# Named arguments, then the helpers every transition shares.
PRELUDE = """
local A = cmsgpack.unpack(ARGV[1])
local LEASES, CLAIMED = KEYS[1], KEYS[2]
"""

# Helpers (Lua functions, not scripts), shared by the lease scripts and by the
# scheduling scripts that read a sensor's state (EARLIEST).
EARLIEST = """
-- The sensor's status as it applies: the operator's, else the code's default.
local function running(status, default)
  return (status or default) == 'RUNNING'
end
-- The earliest time a sensor may start its next evaluation: ``now``, or its
-- last tick's start plus its interval when that is later (invariant 1).
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

# The lease's own helpers: Redis's clock, its fields, its round, its expiry.
BASICS = """
-- Redis's clock, in unix seconds: the only clock a lease is measured by.
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(t)
  return string.format('%.6f', t)
end
-- A score as Redis would write the number itself (every digit kept), made
-- once for a batch: a Lua number in redis.call is formatted again for each
-- argument, and a batch's scores are mostly one value.
local function score(t)
  return string.format('%.17g', t)
end
-- The lease's fields, in one place (claimed_at too: only read with inflight,
-- its bytes go with it), with ``trigger``: a trigger's mark stays through the
-- tick it asked for (a lease's end that does not commit reads it, as ``by
-- trigger``) and goes with the lease.  And ``by_trigger``, where versions
-- before kept that mark while in flight (a lease's end reads it too), and
-- ``last``, the copy of the newest history entry they kept: nothing reads
-- it.  ``...``: more fields to delete with them.
local function clear_lease_fields(hash, ...)
  redis.call('HDEL', hash, 'inflight', 'claimed_at', 'holder', 'began', 'trigger', 'deaths',
    'death', 'by_trigger', 'last', ...)
end
local function clear_lease(hash, name)
  clear_lease_fields(hash)
  redis.call('ZREM', LEASES, name)
end
-- The claiming round of a tick (CLAIM_DUE's ids: the round, then 8 hex
-- digits), the member of CLAIMED while the leader has not published it.
local function round_of(tick)
  return string.sub(tick, 1, -9)
end
local function set_expiry(name, at)
  redis.call('ZADD', LEASES, at, name)
end
"""

# Every helper, in the order each is defined before it is used.
HELPERS = EARLIEST + BASICS + HISTORY + SWEEP


def script(body: str) -> str:
    """A lease script: its named arguments, every helper, then ``body``."""
    return PRELUDE + HELPERS + body
