"""Scripts of a tick's life: claim, commit, release, give back."""

from __future__ import annotations

from lookout._core.scripts.asset_index import APPEND_ASSET_EVENT
from lookout._core.scripts.scheduling import EARLIEST

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
# The asset events the sensor reported (SensorResult(asset_events=...)) go to
# the event stream and their assets' streams with the rest (the last block):
# a redelivered tick finds its commit done and appends none again, a failed
# tick has none.  That block reads only the tails of KEYS and ARGV.
# The counters hash counts the commit (the [counters] block, last): the tick
# by sensor and status, its requests and those dropped for a used run key.
# KEYS: sensor hash, ticks list, launch stream, inflight zset, due zset,
#       run-key hash, counters hash,
#       then, only when the tick reports asset events: the events stream,
#       then per asset event: its asset stream, its asset's partitions hash
# ARGV: tick id, store cursor ("1"/"0"), cursor, record, history size,
#       next due ("" for none), sensor name, request count,
#       then per request: has run key ("1"/"0"), run key, launch entry,
#       then the tick's start (kept as last_started, which EARLIEST reads),
#       then the tick's status (counted by the [counters] block),
#       then per asset event: the event (msgpack RunEvent), its partition
#       ("" for none), and LAST the asset event count
# Returns {1, mask} when committed, {0, ""} when the tick is not in flight.
COMMIT = (
    APPEND_ASSET_EVENT
    + """
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
-- [asset events] The events the sensor reported, in order, each with its
-- asset index entries (append_asset_event).  From the tails: KEYS[e] is the
-- events stream, then two keys per event; ARGV[a + 1] the first event.
local m = tonumber(ARGV[#ARGV])
local e, a = #KEYS - 2 * m, #ARGV - 1 - 2 * m
for i = 1, m do
  append_asset_event(
    KEYS[e], KEYS[e + 2 * i - 1], KEYS[e + 2 * i], ARGV[a + 2 * i - 1], ARGV[a + 2 * i])
end
-- [end asset events]
-- [counters] Only grows the counters hash (KEYS[7], keys.py ``counters``):
-- committed ticks by sensor and status, requests given, requests dropped.
-- The tick's status is the argument after its start (ARGV[10 + 3n]).
local sensor = ARGV[7]
redis.call('HINCRBY', KEYS[7], 'ticks:' .. sensor .. ':' .. ARGV[10 + 3 * n], 1)
if n > 0 then
  local _, dropped = string.gsub(flags, '0', '')
  redis.call('HINCRBY', KEYS[7], 'requests:' .. sensor, n)
  redis.call('HINCRBY', KEYS[7], 'dropped:' .. sensor, dropped)
end
-- [end counters]
return {1, flags}
"""
)

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
    EARLIEST
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


# BEGIN_EVAL: a worker takes up a tick it is about to evaluate.  One tick is
# evaluated by one process at a time (invariant 1) even when its message was
# delivered twice (a publish resent after a lost reply): the first to begin
# names itself in the ``evaluator`` field, and a second delivery of the same
# tick finds it there and leaves the tick alone.  The caller may take over
# from a holder it knows to be dead (a pool process killed mid-tick, on the
# caller's own host, whose message Celery gave back).  The field names the
# tick, so a holder left from an earlier tick never blocks a new one.
# KEYS: sensor hash
# ARGV: tick id, this evaluator, the holder known to be dead ("" for none)
# Returns "" when the caller may evaluate, "-" when the tick no longer holds
# the mark, else the evaluator that holds the tick.
BEGIN_EVAL = """
local f = redis.call('HMGET', KEYS[1], 'inflight', 'evaluator')
if f[1] ~= ARGV[1] then
  return '-'
end
local prefix = ARGV[1] .. '|'
local mine = prefix .. ARGV[2]
local held = f[2]
if held and held ~= mine and string.sub(held, 1, #prefix) == prefix
    and held ~= prefix .. ARGV[3] then
  return string.sub(held, #prefix + 1)
end
redis.call('HSET', KEYS[1], 'evaluator', mine)
return ''
"""

TICK_SCRIPTS = {
    "claim": CLAIM,
    "commit": COMMIT,
    "release": RELEASE,
    "give_back": GIVE_BACK,
    "begin_eval": BEGIN_EVAL,
}
