"""A tick's start: claimed by hand or in the leader's round, then published."""

from __future__ import annotations

from lookout._core.scripts.lease.base import script

# CLAIM: a tick by hand (the CLI, tests): the caller evaluates it at once, so
# the lease is published from the start.  A lapsed lease is expired first (the
# sweep's transition), a live one is left alone.
# KEYS: inflight zset, claimed zset, sensor hash, due zset, ticks list, events
#       stream (a lapsed lease's FAILURE is told there)
# A: sensor, tick, ttl (s), size and max_age (the history's retention), now
#    (the caller's clock: the claim time shown for the tick, and where a
#    lapsed lease's sensor becomes due)
# Returns the tick id now in flight: A.tick when claimed, another when busy.
CLAIM = script("""
local current = redis.call('HGET', KEYS[3], 'inflight')
if current then
  local expiry = redis.call('ZSCORE', LEASES, A.sensor)
  if expiry and tonumber(expiry) > clock() then
    return current
  end
  expire(KEYS[3], KEYS[4], KEYS[5], A.sensor, A.now, A.size, A.max_age, KEYS[6])
end
redis.call('HSET', KEYS[3], 'inflight', A.tick, 'claimed_at', fmt(A.now))
set_expiry(A.sensor, clock() + A.ttl)
redis.call('ZREM', KEYS[4], A.sensor)
return A.tick
""")

# CLAIM_DUE: one scheduling round of the leader, all or nothing.  Fencing: it
# changes nothing unless the leader lock holds the caller's token, so a deposed
# leader cannot claim (and therefore cannot publish) anything.  Once per round:
# the reply is kept under the caller's round key, and the same round sent again
# (redis-py re-sends a command whose reply was lost) gets the same reply and
# changes nothing more.  In order:
# 1. the sweep: leases past their expiry (Redis time) are expired; those
#    published and never begun (lapsed in the tick queue) are counted in the
#    lapsed counter;
# 2. triggers that waited for an in-flight tick become due once it is over;
#    those still waiting go to the back of the line;
# 3. while the tick queue (kombu's list) holds ``queue_limit`` messages or
#    more, the workers are behind: nothing is claimed and the due sensors stay
#    in the index as they are (back-pressure: they tick late once the queue
#    drains, instead of waiting in the queue until their leases lapse);
# 4. unless ``launch_limit`` run requests or more wait on the launch stream,
#    not yet launched (the launchers are behind: the due sensors are put back
#    ``defer`` s and counted as deferred, so that sensors slow down instead of
#    filling Redis), up to ``limit`` due sensors are claimed: a new tick id
#    each, unpublished, with a lease of ``publish_within`` s for the leader to
#    publish it (with ``ahead``, those due within it too: delivered early, a
#    worker holds each until its due time).  Waiting means unread by the
#    launchers' group (its lag) or read and not acknowledged (pending);
#    entries already launched stay in the stream until a launcher trims it
#    and are not counted, else the sensors would wait on work that is done
#    while the executors run dry.  Without a lag (no group yet, Redis < 7, or
#    one it cannot tell), the whole length.
# Only sensors that are due, lapsed or triggered are read: O(log n) per tick.
# KEYS: inflight zset, claimed zset, leader lock, due zset, triggered zset,
#       round key, launch stream, deferred counter, events stream (the
#       sweep's FAILURE ticks are told there), tick queue list, lapsed counter
# A: token, now (due clock), limit, round (tick id prefix), hash_prefix,
#    ticks_prefix, size, max_age, publish_within, round_ttl, launch_limit (0: none),
#    launch_group (the launchers' consumer group), defer (s), queue_limit
#    (messages; 0: none), ahead (s: the sensors due up to this long after now
#    are claimed too; the workers hold each until its due time; 0: only those due)
# Returns nil when not leader, else the round as kept under the round key:
# msgpack {round, {expired, promoted, deferred, lapsed, queued (the tick
# queue's length), held back (1: nothing claimed for the queue's bound, else
# 0), claimed (n), names, due times}}; ``expired`` counts the sweep's FAILURE
# ticks.  The claimed ticks in columns: ``names`` joined by the byte 0xff
# (never in UTF-8, so never in a name), ``due times`` the due index's scores
# as ZRANGEBYSCORE wrote them, joined by spaces; the i-th tick's id is the
# round then i in 8 hex digits, not sent (the caller knows both).  Packed,
# not a reply array: it is packed for the round key anyway; and two joined
# strings rather than a msgpack string per value: cmsgpack packed each, ~1k
# instructions a tick.
CLAIM_DUE = script("""
-- The previous round is under the key too: it is told from this one by its
-- packed round name, after the array's one-byte header, without unpacking
-- every tick it claimed.
local saved = redis.call('GET', KEYS[6])
local this_round = cmsgpack.pack(A.round)
if saved and string.sub(saved, 2, #this_round + 1) == this_round then
  return saved
end
local function answer(out)
  local packed = cmsgpack.pack({A.round, out})
  redis.call('SET', KEYS[6], packed, 'PX', math.floor(A.round_ttl * 1000) + 1)
  return packed
end
if redis.call('GET', KEYS[3]) ~= A.token then
  return false
end
local now = clock()
local past = redis.call('ZRANGEBYSCORE', LEASES, '-inf', now, 'LIMIT', 0, A.limit)
local expired, lapsed = 0, 0
for _, name in ipairs(past) do
  local how = expire(A.hash_prefix .. name, KEYS[4], A.ticks_prefix .. name,
    name, A.now, A.size, A.max_age, KEYS[9])
  if how == 1 then
    expired = expired + 1
  elseif how == 2 then
    lapsed = lapsed + 1
  end
end
if lapsed > 0 then
  redis.call('INCRBY', KEYS[11], lapsed)
end
local promoted = 0
local pending = redis.call('ZRANGE', KEYS[5], 0, A.limit - 1)
for _, name in ipairs(pending) do
  local hash = A.hash_prefix .. name
  if redis.call('HEXISTS', hash, 'inflight') == 1 then
    redis.call('ZADD', KEYS[5], A.now, name)
  else
    redis.call('ZREM', KEYS[5], name)
    make_due(hash, KEYS[4], name, A.now)
    promoted = promoted + 1
  end
end
local queued = redis.call('LLEN', KEYS[10])
if A.queue_limit > 0 and queued >= A.queue_limit then
  -- Back-pressure: the workers are behind; the due sensors stay due.
  return answer({expired, promoted, 0, lapsed, queued, 1, 0, '', ''})
end
local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', A.now + A.ahead, 'WITHSCORES',
  'LIMIT', 0, A.limit)
-- The run requests not yet launched (step 3); the length when the group
-- cannot tell, and no XINFO while the length alone is below the limit.
local function launch_waiting()
  local length = redis.call('XLEN', KEYS[7])
  if length < A.launch_limit then
    return length
  end
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[7])) do
    local info = {}
    for i = 1, #group, 2 do
      info[group[i]] = group[i + 1]
    end
    if info['name'] == A.launch_group then
      if info['lag'] then
        return info['lag'] + info['pending']
      end
      return length
    end
  end
  return length
end
if A.launch_limit > 0 and #due > 0 and launch_waiting() >= A.launch_limit then
  -- Back-pressure: the launchers are behind; the due ticks wait, counted.
  for i = 1, #due, 2 do
    redis.call('ZADD', KEYS[4], A.now + A.defer, due[i])
  end
  redis.call('INCRBY', KEYS[8], #due / 2)
  return answer({expired, promoted, #due / 2, lapsed, queued, 0, 0, '', ''})
end
local claimed = {}
local dues = {}
local names = {}
local n = 0
local claimed_at = fmt(A.now)
local expiry, claim_time = score(now + A.publish_within), score(now)
local hash_prefix, round = A.hash_prefix, A.round
for i = 1, #due, 2 do
  names[(i + 1) / 2] = due[i]
end
-- A sensor already in flight (ticked by hand) is back in the index when that
-- tick ends; it is never claimed twice.  In flight reads from the leases'
-- index (a lease's fields and its expiry are set and cleared together, in
-- the same scripts): one ZMSCORE per 1,000 sensors, where an HMGET of each
-- sensor's hash cost ~4% of Redis's instructions a tick.  A trigger's mark
-- stays on the hash through the tick it asked for (clear_lease_fields): the
-- claim writes the lease only.
for first = 1, #names, 1000 do
  local last = math.min(first + 999, #names)
  local held = redis.call('ZMSCORE', LEASES, unpack(names, first, last))
  for j = first, last do
    if not held[j - first + 1] then
      local name = names[j]
      n = n + 1
      -- One format per id, the prefix joined to it: string.format formats each
      -- item on its own (a %s too), and either is a libc call.
      local id = round .. string.format('%08x', n)
      redis.call('HSET', hash_prefix .. name, 'inflight', id, 'claimed_at', claimed_at)
      claimed[n] = name
      dues[n] = due[2 * j]
    end
  end
end
-- The reply's columns, before the sort below reorders ``claimed``.
local out = {expired, promoted, 0, lapsed, queued, 0, n, table.concat(claimed, string.char(255)),
  table.concat(dues, ' ')}
-- The round's due index removals, lease expiries (set_expiry's) and claims,
-- a call each per 1,000 ticks rather than one per tick (the script is atomic).
for first = 1, #names, 1000 do
  redis.call('ZREM', KEYS[4], unpack(names, first, math.min(first + 999, #names)))
end
-- The leases' set is new whenever no tick was in flight, and Redis 7.0
-- makes every new sorted set a listpack until it passes 128 members,
-- whatever the ZADD holds.  In a listpack each member is looked for and
-- placed by a scan of the list that parses every score on its way: at a low
-- tick rate, where the set stays small, every ZADD of the round's ticks
-- (here, the publish's, the take-up's) cost ~7x a skiplist's.  So each round
-- makes it a skiplist: a placeholder longer than a listpack takes (64 bytes
-- unless configured) converts a new or small set, and Redis never converts
-- a skiplist back while the key lives; the placeholder goes in the same
-- step.  (A round that claims nothing leaves it be.)  Bytes 0xff: never in
-- a name (names are UTF-8).
local OPENER = string.rep(string.char(255), 200)
local opened = #claimed > 0 and redis.call('OBJECT', 'ENCODING', LEASES) ~= 'skiplist'
if opened then
  redis.call('ZADD', LEASES, expiry, OPENER)
end
for first = 1, #claimed, 1000 do
  local scored = {}
  local k = 0
  for i = first, math.min(first + 999, #claimed) do
    scored[k + 1] = expiry
    scored[k + 2] = claimed[i]
    k = k + 2
  end
  redis.call('ZADD', LEASES, unpack(scored))
end
if opened then
  redis.call('ZREM', LEASES, OPENER)
end
-- The round, not each of its ticks, is claimed and not yet published: one
-- member (a member a tick, added here and taken out by the publish or the
-- take-up, was ~4% of Redis's instructions a tick).  A round never
-- published (the leader died first) leaves the set once its ticks' leases
-- have long lapsed and the sweep has read them: its score is that time,
-- ``publish_within`` and the round's ``round_ttl`` after its claim.
redis.call('ZREMRANGEBYSCORE', CLAIMED, '-inf', claim_time)
if #claimed > 0 then
  redis.call('ZADD', CLAIMED, score(now + A.publish_within + A.round_ttl), round)
end
return answer(out)
""")

# PUBLISH: the leader sent the messages of these ticks of ``round``: the round
# leaves the claimed set and their leases run ``ttl`` s from now, for a worker
# to take each up.  A call per 1,000 ticks.  (A lease already gone is not
# brought back: XX.  A leader that stalled longer than ``publish_within`` may
# touch a newer claim of the same sensor: that tick is still begun,
# committed or expired once.)
# The round's expiry goes under ``published`` too (the earliest, should a
# round be published twice), until it passes: a take-up soon after it leaves
# the round's leases as they are (TAKE_UP).
# KEYS: inflight zset, claimed zset, published zset
# A: ttl, round (the claiming round, CLAIM_DUE's), names (the sensors)
# Returns how many of their leases it moved.
PUBLISH = script("""
local now = clock()
local at = score(now + A.ttl)
local done = 0
for first = 1, #A.names, 1000 do
  local scored = {}
  for i = first, math.min(first + 999, #A.names) do
    scored[#scored + 1] = at
    scored[#scored + 1] = A.names[i]
  end
  done = done + redis.call('ZADD', LEASES, 'XX', 'CH', unpack(scored))
end
redis.call('ZREM', CLAIMED, A.round)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', score(now))
redis.call('ZADD', KEYS[3], 'LT', at, A.round)
return done
""")
