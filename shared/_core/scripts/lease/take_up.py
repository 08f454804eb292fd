"""A tick taken up by the process that evaluates it, and its lease renewed."""

from __future__ import annotations

from lookout._core.scripts.lease.base import script

# begin_tick: one tick taken up by ``holder`` (BEGIN and TAKE_UP).  One tick
# is evaluated by one process at a time (invariant 1) even when its message
# was delivered twice: the first to begin becomes the holder, and a second
# delivery finds it there and leaves the tick alone (the holder renews the
# lease, or the sweep expires it).  The lease then runs ``ttl`` s from ``now``.
# Returns "" when the caller holds it, "-" when the tick no longer holds the
# lease, else the holder that does.
BEGIN_TICK = """
local function begin_tick(hash, name, tick, holder, ttl, now)
  local f = redis.call('HMGET', hash, 'inflight', 'holder')
  if f[1] ~= tick then
    return '-'
  elseif f[2] and f[2] ~= holder then
    return f[2]
  end
  redis.call('HSET', hash, 'holder', holder, 'began', fmt(now))
  set_expiry(name, now + ttl)
  -- Begun is published, even if the leader could not say so.
  redis.call('ZREM', CLAIMED, round_of(tick))
  return ''
end
"""

# BEGIN: a process takes up ticks to evaluate (begin_tick for each).
# KEYS: inflight zset, claimed zset
# A: hash_prefix, holder, ttl, ticks ({{name, tick id}, ...})
# Returns per tick what begin_tick says.
BEGIN = script(
    BEGIN_TICK
    + """
local now = clock()
local out = {}
for i, t in ipairs(A.ticks) do
  out[i] = begin_tick(A.hash_prefix .. t[1], t[1], t[2], A.holder, A.ttl, now)
end
return out
"""
)

# TAKE_UP: a worker's whole message in one step: each tick begun as BEGIN
# does, and the state of each sensor it now holds read in the same atomic
# step (what the evaluation starts from: no commit can come in between).
# With ``fresh``, a round published lately keeps its leases as the publish
# armed them (its ``published`` expiry at least ``fresh`` s away): a write
# of every tick's expiry less (~3.5% of Redis's instructions a tick); the
# caller's bound is the lease left.  A round not yet published (its round
# still claimed: the leader has not said so yet, or never will), one the
# publish did not record (a leader of the version before), one published
# too long ago, or no ``fresh``: its held ticks' leases run ``ttl`` s from
# now, as BEGIN's.
# KEYS: inflight zset, claimed zset, published zset
# A: hash_prefix, ticks_prefix, holder, ttl, ticks ({name, tick id, name,
#    tick id, ...}: flat, one table to unpack rather than one per tick),
#    fields (the sensor hash's fields to read), fresh (s, or nil)
# Returns, msgpack packed (one string: cheaper for Redis to send than a
# reply array per tick, and for the caller to read), {the least lease left
# of the ticks held (s; ``ttl`` when none), per tick {answer}, or {"", the
# holder as it was (false, or the caller), field values (false for none)...,
# newest history entry or false} when the caller holds it}.
TAKE_UP = script("""
local now = clock()
local began = fmt(now)
local expiry = score(now + A.ttl)
local out = {}
local expiries = {}
local ticks, fields, holder = A.ticks, A.fields, A.holder
local hash_prefix, ticks_prefix = A.hash_prefix, A.ticks_prefix
local n = #fields
-- Whether the take-up arms a round's leases, decided once per round, as the
-- loop first meets it: begun is published, even if the leader could not say
-- so (the round leaves the claimed), and a round published lately keeps its
-- leases, whose least time left is the answer's.
local left, arms = A.ttl, {}
local function arms_round(round)
  local claimed = redis.call('ZREM', CLAIMED, round) == 1
  local kept = A.fresh and not claimed and tonumber(redis.call('ZSCORE', KEYS[3], round))
  if kept and kept - now >= A.fresh then
    left = math.min(left, kept - now)
    return false
  end
  return true
end
-- The last round met (a message's ticks are mostly of one round: another is
-- looked up only when a tick is not of it, which its length and first bytes
-- tell without a string) and whether it is armed.
local round, arm = nil, false
-- (Positions counted here: each ``#`` is a search of the table's border.)
local e = 0
for i = 1, #ticks, 2 do
  local name, tick = ticks[i], ticks[i + 1]
  local hash = hash_prefix .. name
  -- begin_tick's checks, with the state read in the same call.
  local f = redis.call('HMGET', hash, 'inflight', 'holder', unpack(fields))
  if f[1] ~= tick then
    out[(i + 1) / 2] = {'-'}
  elseif f[2] and f[2] ~= holder then
    out[(i + 1) / 2] = {f[2]}
  else
    redis.call('HSET', hash, 'holder', holder, 'began', began)
    if not round or #tick - 8 ~= #round or string.find(tick, round, 1, true) ~= 1 then
      round = round_of(tick)
      if arms[round] == nil then
        arms[round] = arms_round(round)
      end
      arm = arms[round]
    end
    if arm then
      expiries[e + 1], expiries[e + 2] = expiry, name
      e = e + 2
    end
    -- The reply is the HMGET's own table (no copy per tick): the answer
    -- in the tick id's place, then the holder's as read, the state, the head.
    f[1] = ''
    -- (An index as text: Redis formats a Lua number argument with printf.)
    f[n + 3] = redis.call('LINDEX', ticks_prefix .. name, '0')
    out[(i + 1) / 2] = f
  end
end
-- begin_tick's lease expiries where armed, a call per 1,000 ticks (the
-- script is atomic: nothing sees them apart).
for first = 1, e, 2000 do
  redis.call('ZADD', LEASES, unpack(expiries, first, math.min(first + 1999, e)))
end
return cmsgpack.pack({left, out})
""")

# RENEW: the holder extends its leases to ``ttl`` s from now (never shortens
# one); ``restart`` also moves ``began`` to now (an evaluation starts: what a
# death's record counts from).
# KEYS: inflight zset, claimed zset
# A: hash_prefix, holder, ttl, restart (bool), ticks ({{name, tick id}, ...})
# Returns per tick 1 while the caller holds it, else 0.
RENEW = script("""
local now = clock()
local out = {}
for i, t in ipairs(A.ticks) do
  local hash = A.hash_prefix .. t[1]
  local f = redis.call('HMGET', hash, 'inflight', 'holder')
  if f[1] == t[2] and f[2] == A.holder then
    redis.call('ZADD', LEASES, 'GT', now + A.ttl, t[1])
    if A.restart then
      redis.call('HSET', hash, 'began', fmt(now))
    end
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
""")
