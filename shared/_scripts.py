"""Lua scripts: each is one atomic change to several keys, with what it guarantees."""

from __future__ import annotations

# CLAIM: mark a sensor's tick as in flight, so that no second tick of it is
# evaluated while this one is queued or running (invariant 1).
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
redis.call('HSET', KEYS[1], 'inflight', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return ARGV[2]
"""

# COMMIT: a tick's whole effect, all or nothing, at most once per tick id
# (invariants 2 and 3).  Only the tick that holds the in-flight mark commits;
# a redelivered or superseded tick finds the mark gone or changed and changes
# nothing.  Run keys are claimed with HSETNX on the sensor's run-key hash (set
# if absent, atomically, as SET NX does for a key, at a third of the memory); a
# request whose key is taken is dropped, the others go to the launch stream.
# The cursor is stored unless the tick failed.  The sensor goes back into the
# due index at ARGV[6] if it is RUNNING (operator status, else its default).
# KEYS: sensor hash, ticks list, launch stream, inflight zset, due zset,
#       run-key hash
# ARGV: tick id, store cursor ("1"/"0"), cursor, record, history size,
#       next due ("" for none), sensor name, request count,
#       then per request: has run key ("1"/"0"), run key, launch entry
# Returns {1, mask} when committed, {0, ""} when the tick is not in flight.
COMMIT = """
if redis.call('HGET', KEYS[1], 'inflight') ~= ARGV[1] then
  return {0, ''}
end
local n = tonumber(ARGV[8])
local mask = {}
for i = 1, n do
  local base = 6 + 3 * i
  local accepted = true
  if ARGV[base] == '1' then
    accepted = redis.call('HSETNX', KEYS[6], ARGV[base + 1], '1') == 1
  end
  if accepted then
    redis.call('XADD', KEYS[3], '*', 'd', ARGV[base + 2])
    mask[i] = '1'
  else
    mask[i] = '0'
  end
end
local flags = table.concat(mask)
local entry = ARGV[4] .. cmsgpack.pack(flags)
redis.call('LPUSH', KEYS[2], entry)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
redis.call('HSET', KEYS[1], 'last', entry)
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'cursor', ARGV[3])
end
redis.call('HDEL', KEYS[1], 'inflight')
redis.call('ZREM', KEYS[4], ARGV[7])
if ARGV[6] ~= '' then
  local status = redis.call('HGET', KEYS[1], 'status') or redis.call('HGET', KEYS[1], 'default')
  if status == 'RUNNING' then
    redis.call('ZADD', KEYS[5], ARGV[6], ARGV[7])
  end
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


# Every script, by the name the storage calls it with.
SCRIPTS = {"claim": CLAIM, "commit": COMMIT, "release": RELEASE}
