"""The tick lease: every transition of a sensor's tick, in one Lua source.

A sensor has at most one tick in flight, held by one lease on its hash:
``inflight`` (the tick id), ``holder`` (the process evaluating it, once one
began it) and ``began``, with the lease's expiry as the sensor's score in the
``inflight`` zset.  Nothing else writes these fields.  Every lease time is
Redis's own (``TIME`` inside the script), so the hosts' clocks never decide
whether a lease holds; due times (the ``due`` index) stay on the
scheduler's clock, which the callers pass as ``now``.

The transitions::

    claim_due           -> claimed     (the leader's round; in ``claimed``)
    publish / claim     -> published   (its message is on the queue; by hand)
    begin / take_up     -> held        (a process evaluates it; renewed)
    commit / commit_many-> gone        (its effects, once)
    give_back / release -> gone        (not evaluated; due again / parked)
    abandon             -> gone        (its process died: a FAILURE with why)
    expire              -> gone        (the sweep: lease lapsed; FAILURE
                                        once a process began it)

Every script takes its arguments by name: ``ARGV[1]`` is one msgpack map
(strings as msgpack str, which Lua's cmsgpack reads byte for byte), decoded
into ``A`` at the top; each script's header lists the names it reads.  Every
script's first two keys are the ``inflight`` zset (each lease's expiry, the
sweep's index) and the ``claimed`` zset (the leader's claiming rounds not yet
published: a tick's round is its id without the last 8 hex digits).
"""

from __future__ import annotations

from lookout._core.scripts.asset_index import APPEND_ASSET_EVENT
from lookout._core.scripts.run_keys import TAKE_RUN_KEYS

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

HELPERS = (
    EARLIEST
    + """
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
-- A history entry (storage.history): the record (text and numbers only:
-- Lua's cmsgpack reads no binary), then its cursors if any, then the
-- commit's accepted/dropped flags if it asked for runs.  The record is an
-- array {status, tick id or false, start, duration (us) or false, lateness,
-- worker, skip reason, {the rest}}; one of the first compact form, a map
-- with s, i, started_at, ended_at, r, k, f and I, still reads.  The record of
-- an entry, and where the rest starts; nil for one Lua cannot read (from
-- before the compact form).
local function record_of(entry)
  local ok, at, rec = pcall(cmsgpack.unpack_one, entry)
  if not ok or type(rec) ~= 'table' or not (rec[1] or rec.s) then
    return nil
  end
  return rec, at
end
local function status_of(rec)
  return rec[1] or rec.s
end
-- The skip reason, nil for none (false in the array).
local function reason_of(rec)
  if rec[1] then
    return rec[7] or nil
  end
  return rec.r
end
local function started_of(rec)
  return rec[3] or rec.started_at
end
local function ended_of(rec)
  if rec[1] then
    return rec[3] + (rec[4] or 0) / 1000000
  end
  return rec.ended_at or rec.started_at
end
-- The run's fields: k (how many), f (the first start), J or I (the first
-- tick's id: packed as the array's second field, or as text).
local function run_of(rec)
  if not rec[1] then
    return rec
  end
  return rec[8] or {}
end
-- The end of an entry of the array form as ended_of gives it, read from its
-- bytes without unpacking the whole entry (a table and a string per field):
-- its start a double after a 16-byte tick id or none, then a whole duration
-- or none.  nil for any other layout (the retention check unpacks it).
local WHOLE = {[0xcc] = {'>B', 1}, [0xcd] = {'>H', 2}, [0xce] = {'>I4', 4}, [0xcf] = {'>I8', 8}}
local function end_of(s)
  local array, letter, _, id = string.byte(s, 1, 4)
  if (array ~= 0x97 and array ~= 0x98) or letter ~= 0xa1 then
    return nil
  end
  local p = (id == 0xb0 and 21) or (id == 0xc2 and 5)
  if not p or #s < p + 9 or string.byte(s, p) ~= 0xcb then
    return nil
  end
  local started = struct.unpack('>d', s, p + 1)
  local t = string.byte(s, p + 9)
  if t < 0x80 then
    return started + t / 1000000
  elseif t == 0xc2 then
    return started
  elseif WHOLE[t] and #s >= p + 9 + WHOLE[t][2] then
    return started + struct.unpack(WHOLE[t][1], s, p + 10) / 1000000
  end
  return nil
end
-- An entry's status, skip reason (false for none), start and end; nil for
-- an entry Lua cannot read.
local function summary(s)
  local rec = record_of(s)
  if rec then
    return status_of(rec), reason_of(rec) or false, started_of(rec), ended_of(rec)
  end
  return nil
end
-- The header of an array of eight values (msgpack fixarray): a record with its run.
local EIGHT = string.char(0x98)
-- A SKIPPED tick with the same skip reason (or none, as the other) as the
-- newest entry, a skip too, takes that entry's place, counting the run: k
-- ticks, the first one started at f with id J or I.  A quiet sensor's skips
-- are one entry.  Retention: at most ``size`` entries, and none that ended
-- more than ``max_age`` s before this tick started (0 or nil: no bound by
-- age), the oldest first, checked when an entry is added.  The newest entry
-- is the head of the list: the hash keeps only its start, ``last_started``,
-- set with ``fields`` (more field, value pairs of the sensor's hash: one
-- HSET for the commit).  ``status`` and ``reason``: the entry's status and
-- skip reason (false for none) as its caller has them (a commit's
-- arguments), so that only a skip's fold unpacks it; nil: read from the entry.
-- ``fold`` false: the caller knows the head cannot take this skip in (it is
-- not read); nil, true or a number: it may (a number: the length of the
-- record, the entry's first bytes, before its cursors and flags).
-- The age check reads the tail only when it can be too old: the hash's
-- ``ends_from`` (whole unix s) is a time no entry ended before, as far as
-- the entries' ends are in the list's order (newest first; clocks that
-- disagree can put an entry out of it, and the check, from the tail, then
-- reaches it that much later, as it did before): an entry's end is no
-- earlier than its start, so an entry lowers it to its start when that is
-- earlier, and after a check it is the end of the tail that stays.  Absent
-- (a hash of a version before, or no check yet): the tail is read.
-- ``floor``: the caller's read of ``ends_from`` (false: none); nil: read here.
-- ``first`` and ``last``: numbers no later and no earlier than ``started``
-- (a flush's earliest and latest start), which decide whether the tail can
-- be too old and the floor lower without converting ``started`` (text)
-- itself; nil: ``started``.
local function write_record(hash, ticks, entry, size, started, max_age, fields, status, reason,
    fold, floor, first, last)
  local known = status ~= nil
  if not known then
    status, reason = summary(entry)
  end
  local h, rec, rest, spliced
  if status == 'K' and fold ~= false then
    -- The head unpacked once: its status and reason, then its run.
    local head = redis.call('LINDEX', ticks, '0')
    local hr = head and record_of(head)
    if hr and status_of(hr) == 'K' and (reason_of(hr) or false) == reason then
      h = hr
      -- A record of seven values (no run, nothing else of its own), the
      -- first ``fold`` bytes of the entry, gains the run as its eighth by
      -- a splice: the entry is neither unpacked nor packed again.
      if type(fold) == 'number' and string.byte(entry, 1) == 0x97 then
        rest, spliced = fold, true
      else
        rec, rest = record_of(entry)
      end
    end
  end
  if floor == nil then
    floor = redis.call('HGET', hash, 'ends_from')
  end
  -- (x + 0: one conversion of the digits, where tonumber makes two.)
  local bound = floor and floor + 0
  local low = bound
  if not first then
    first = started + 0
    last = first
  end
  if h and (rec or spliced) then
    local hr = run_of(h)
    -- A spliced record has no run of its own: a new one.
    local run = spliced and {} or run_of(rec)
    run.k = (hr.k or 1) + 1
    run.f = hr.f or started_of(h)
    if hr.I or hr.J then
      run.I, run.J = hr.I, hr.J
    elseif h[1] then
      run.I, run.J = (h[8] or {}).i, h[2] or nil
    else
      run.I = h.i
    end
    if spliced then
      entry = EIGHT .. string.sub(entry, 2, rest) .. cmsgpack.pack(run) ..
        string.sub(entry, rest + 1)
    else
      rec[8] = run
      entry = cmsgpack.pack(rec) .. (rest > 0 and string.sub(entry, rest + 1) or '')
    end
    redis.call('LSET', ticks, '0', entry)
  else
    local n = redis.call('LPUSH', ticks, entry)
    -- One over (a full history): its tail popped, which takes no number
    -- (Redis formats a Lua number argument with printf).
    if n == size + 1 then
      redis.call('RPOP', ticks)
      n = size
    elseif n > size then
      redis.call('LTRIM', ticks, '0', size - 1)
      n = size
    end
    -- By age only when an entry was added: a run that grows ages nothing.
    if n == 1 then
      low = started + 0
    elseif max_age and max_age > 0 and not (bound and bound >= last - max_age) then
      local start = started + 0
      local oldest = start - max_age
      local ended
      while n > 1 do
        local tail = redis.call('LINDEX', ticks, '-1')
        ended = end_of(tail)
        if not ended then
          ended = select(4, summary(tail))
        end
        if not ended or ended >= oldest then
          break
        end
        redis.call('RPOP', ticks)
        n = n - 1
      end
      -- An unreadable tail bounds nothing: 0, read again at the next entry.
      low = (n == 1 and start) or ended or 0
    end
  end
  if low and first < low then
    low = math.min(low, started + 0)
  end
  local more = fields or {}
  if low then
    low = math.floor(low)
    if low ~= bound then
      more[#more + 1] = 'ends_from'
      more[#more + 1] = string.format('%d', low)
    end
  end
  redis.call('HSET', hash, 'last_started', started, unpack(more))
end
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
)


def _script(body: str) -> str:
    return PRELUDE + HELPERS + body


# CLAIM: a tick by hand (the CLI, tests): the caller evaluates it at once, so
# the lease is published from the start.  A lapsed lease is expired first (the
# sweep's transition), a live one is left alone.
# KEYS: inflight zset, claimed zset, sensor hash, due zset, ticks list, events
#       stream (a lapsed lease's FAILURE is told there)
# A: sensor, tick, ttl (s), size and max_age (the history's retention), now
#    (the caller's clock: the claim time shown for the tick, and where a
#    lapsed lease's sensor becomes due)
# Returns the tick id now in flight: A.tick when claimed, another when busy.
CLAIM = _script("""
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
CLAIM_DUE = _script("""
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
PUBLISH = _script("""
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
BEGIN = _script(
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
TAKE_UP = _script("""
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
RENEW = _script("""
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

# COMMIT: a tick's whole effect, all or nothing, at most once per tick id
# (invariants 2 and 3).  Only the holder of the tick's lease commits; a
# superseded tick changes nothing.  The same commit sent again after its
# reply was lost finds itself as the sensor's last commit and answers as the
# first time (the same tick by another holder is refused).  Run keys live in
# the sensor's run-key hash (a field per key), taken by take_run_keys
# (scripts/run_keys.py: the dedupe and, for a lookout sensor that asks, a
# key's rerun after a failed run and its retention).  A request whose
# key is taken is dropped, the others go to the launch stream, in order.
# The cursor is stored unless the tick failed.  The sensor goes back into
# the due index at ``next_due`` if it is RUNNING.  A commit means its
# process survived the evaluation: its count of deaths in a row (``kills``)
# starts again.
# The asset events the sensor reported (SensorResult(asset_events=...)) go to
# the event stream and their assets' own streams in the same step (the last
# block): a commit sent again appends none again, a failed tick has none.
# The [counters] block counts the commit in the counters hash: the tick by
# sensor and status, its requests and those dropped for a used run key.
# KEYS: inflight zset, claimed zset, sensor hash, ticks list, launch stream,
#       due zset, run-key hash, counters hash,
#       then, only when the tick reports asset events or failed: the events stream,
#       then per asset event: its asset stream, its asset's partitions hash,
#       then each dynamic partitions zset the tick changes
# A: sensor, tick, holder, store_cursor (bool), cursor, record, size, max_age,
#    next_due ("" for none), started, status (the record's letter, for the counters
#    and the history), reason (a skip's reason, false for none; only for a skip),
#    fold (false: the history's head cannot take this skip in, write_record
#    need not read it; a number: it may, and the record is the entry's
#    first this many bytes),
#    requests ({{run key or "", entry[, rerun, run id]}, ...}),
#    run_keys (nil, or take_run_keys' opts: a run-key lifecycle),
#    events ({{msgpack RunEvent, partition or ""}, ...}, in KEYS' order),
#    failure (a FAILURE tick's error, nil otherwise; told on the events
#    stream, KEYS[9], by the [failure event] block),
#    partitions ({{"add" or "del", index in KEYS of the definition's zset,
#    {partition key, ...}}, ...}, in order)
# The [dynamic partitions] block applies the tick's
# SensorResult(dynamic_partitions_requests=...) with the rest of the commit,
# so a partition a tick adds exists exactly when its run requests do.  A
# definition's keys are a zset member -> the order added (the highest score
# + 1; re-adding a present key keeps its place).
# Returns the mask (a string, one flag per request) when committed (now or
# before) with requests, 1 when committed without, 0 when the tick does not
# hold the lease: a number, not an array per tick (Redis converts a Lua table
# of a reply looking for its error, status and other special fields first).
COMMIT_TICK = (
    APPEND_ASSET_EVENT
    + TAKE_RUN_KEYS
    + """
-- The body reads its keys from the parameter KEYS (left unindented, as the
-- script it was): in COMMIT the script's own, in COMMIT_MANY the tick's.
-- ``later`` gathers the lease's removal from the expiries, the sensor's
-- next due time and its counts (``adds``: field, letter, n, ...), for one
-- ZREM, one ZADD and one read and write of the counters hash (``later.counters``)
-- after the flush's last tick (``flush_later``): the script is atomic,
-- nothing sees them apart.
-- The counters block's counts ``counts`` with ``n`` more of ``letter``: its
-- pair's number rewritten in place (a letter only starts a pair), a new
-- pair at the end.
local function count(counts, letter, n)
  local from, to, was = string.find(counts, letter .. '(%d+)')
  if not from then
    return (counts == '' and '' or counts .. ' ') .. letter .. string.format('%d', n)
  end
  -- (was + n: one conversion of the digits, where tonumber makes two.)
  return string.sub(counts, 1, from) .. string.format('%d', was + n) ..
    string.sub(counts, to + 1)
end
local function flush_later(later, due)
  for first = 1, #later.names, 1000 do
    redis.call('ZREM', LEASES, unpack(later.names, first, math.min(first + 999, #later.names)))
  end
  for first = 1, #later.due, 2000 do
    redis.call('ZADD', due, unpack(later.due, first, math.min(first + 1999, #later.due)))
  end
  local adds = later.adds
  if #adds == 0 then
    return
  end
  -- Each field read once, its counts then grown by each of its adds in order.
  local fields, counts = {}, {}
  for i = 1, #adds, 3 do
    local field = adds[i]
    if not counts[field] then
      fields[#fields + 1] = field
      counts[field] = true
    end
  end
  for first = 1, #fields, 1000 do
    local last = math.min(first + 999, #fields)
    local got = redis.call('HMGET', later.counters, unpack(fields, first, last))
    for j = first, last do
      counts[fields[j]] = got[j - first + 1] or ''
    end
  end
  for i = 1, #adds, 3 do
    local field = adds[i]
    counts[field] = count(counts[field], adds[i + 1], adds[i + 2])
  end
  for first = 1, #fields, 1000 do
    local set = {}
    for j = first, math.min(first + 999, #fields) do
      set[#set + 1] = fields[j]
      set[#set + 1] = counts[fields[j]]
    end
    redis.call('HSET', later.counters, unpack(set))
  end
end
-- A commit that fails part way (a Lua error, a WRONGTYPE key) keeps what
-- it wrote: Redis undoes nothing.  The index writes gathered for what did
-- commit are made all the same (else a committed sensor would stay out of
-- the due index until a new leader's sync), then the error goes back.
local function flushed(later, due, ok, reply)
  flush_later(later, due)
  if not ok then
    return redis.error_reply(type(reply) == 'table' and reply.err or tostring(reply))
  end
  return reply
end
-- No run requests.
local NONE = {}
-- ``last_commit`` names a sensor's last commit, answered again to a resend,
-- in 16 hex digits (short enough, with every other field, to keep the
-- sensor's hash a listpack under Redis's default hash-max-listpack-value,
-- 64).  A record that carries its tick id packed (a scheduler's tick: byte
-- 4 of the array form starts the 16-byte id) names its tick itself, and the
-- history's head is the last commit's record: ``last_commit`` is then the
-- SHA-1 of the holder alone, made once per holder in a flush (``S.marks``),
-- not once per tick.  Any other tick's is the SHA-1 of "tick holder", as
-- every commit's was before; versions before that kept "tick holder" itself.
local function holder_mark(holder, S)
  local marks = S.marks
  if not marks then
    marks = {}
    S.marks = marks
  end
  local mark = marks[holder]
  if not mark then
    mark = string.sub(redis.sha1hex(holder), 1, 16)
    marks[holder] = mark
  end
  return mark
end
local function packed_id(record)
  return string.byte(record, 4) == 0xb0
end
local function commit_mark(tick, record, holder, S)
  if packed_id(record) then
    return holder_mark(holder, S)
  end
  return string.sub(redis.sha1hex(tick .. ' ' .. holder), 1, 16)
end
-- Whether ``last`` (the sensor's ``last_commit``) names this very commit,
-- in any of the forms above (a refused commit only: the lease is gone).
local function committed_before(KEYS, tick, record, holder, last, S)
  if not last then
    return false
  end
  local named = tick .. ' ' .. holder
  if last == named or last == string.sub(redis.sha1hex(named), 1, 16) then
    return true
  end
  if not packed_id(record) or last ~= holder_mark(holder, S) then
    return false
  end
  local head = redis.call('LINDEX', KEYS[4], '0')
  local array = head and string.byte(head, 1)
  return (array == 0x97 or array == 0x98) and string.sub(head, 4, 20) == string.sub(record, 4, 20)
end
-- ``C``: the arguments every commit has, by position, from ``at`` + 1
-- (COMMIT_MANY sends them so, all its ticks' in one list: no name nor table
-- to decode per tick); ``A``: the others, by name.
local function commit_tick(KEYS, C, at, A, later, S)
local name, tick, record, started, next_due, letter, reason, fold = unpack(C, at + 1, at + 8)
local holder, requests = A.holder or S.holder, A.requests or NONE
-- (The last commit is read only for a commit refused: a resend's.  Each
-- field read costs Redis a scan of the hash and the script a reply element.)
local state = redis.call('HMGET', KEYS[3], 'inflight', 'status', 'default', 'holder',
  'ends_from')
if state[1] ~= tick or state[4] ~= holder then
  local last = redis.call('HMGET', KEYS[3], 'last_commit', 'last_flags')
  if committed_before(KEYS, tick, record, holder, last[1], S) then
    return (last[2] and last[2] ~= '') and last[2] or 1
  end
  return 0
end
-- [run keys] take_run_keys (scripts/run_keys.py): the dedupe, and a lifecycle's.
-- (Most ticks ask for no runs and keep no lifecycle: nothing to take.)
local flags = ''
if #requests > 0 or A.run_keys then
  local mask = take_run_keys(KEYS[7], requests, A.run_keys)
  for i, r in ipairs(requests) do
    if mask[i] ~= '0' then
      redis.call('XADD', KEYS[5], '*', 'd', r[2])
      mask[i] = '1'
    end
  end
  flags = table.concat(mask)
end
local entry = record
if flags ~= '' then
  entry = entry .. cmsgpack.pack(flags)
end
-- The sensor's fields in write_record's HSET: its last commit, its cursor
-- unless the tick failed.  An empty last_flags and a count of kills of 0
-- are no field at all (both read so): a few bytes less of every sensor's hash.
local fields = {'last_commit', commit_mark(tick, record, holder, S)}
if flags ~= '' then
  fields[3], fields[4] = 'last_flags', flags
end
if A.store_cursor then
  fields[#fields + 1] = 'cursor'
  fields[#fields + 1] = A.cursor or ''
end
-- The record's status is ``letter``; a skip's reason comes as ``reason``.
local status = (letter ~= 'K' or reason ~= nil) and letter or nil
write_record(KEYS[3], KEYS[4], entry, S.size, started, S.max_age, fields, status, reason,
  fold, state[5], S.first, S.last)
-- clear_lease, its expiry later.  With the lease's fields the count of
-- kills and, unless set again, last_flags: deleted unread (a field absent
-- costs HDEL what it costs HMGET, and there is no reply element to make).
if flags == '' then
  clear_lease_fields(KEYS[3], 'kills', 'last_flags')
else
  clear_lease_fields(KEYS[3], 'kills')
end
-- (One length per table: each ``#`` is a search of the table's border.)
local names, due = later.names, later.due
names[#names + 1] = name
if next_due ~= '' and running(state[2], state[3]) then
  local d = #due
  due[d + 1], due[d + 2] = next_due, name
end
-- [asset events] each with its asset index entries (append_asset_event).
for i, ev in ipairs(A.events or NONE) do
  append_asset_event(KEYS[9], KEYS[8 + 2 * i], KEYS[9 + 2 * i], ev[1], ev[2])
end
-- [end asset events]
-- [failure event] a FAILURE tick on the event stream (tick_failure_event).
if A.failure then
  tick_failure_event(KEYS[9], name, tick, clock(), A.failure)
end
-- [end failure event]
-- [dynamic partitions]
for _, change in ipairs(A.partitions or NONE) do
  local zkey = KEYS[change[2]]
  for _, key in ipairs(change[3]) do
    if change[1] == 'del' then
      redis.call('ZREM', zkey, key)
    elseif not redis.call('ZSCORE', zkey, key) then
      local top = redis.call('ZRANGE', zkey, -1, -1, 'WITHSCORES')
      redis.call('ZADD', zkey, (tonumber(top[2]) or 0) + 1, key)
    end
  end
end
-- [end dynamic partitions]
-- [counters] Only grows the counters hash (KEYS[8], keys.py ``counters``):
-- one field per sensor, ``s:{sensor}``, its counts as "{letter}{count}"
-- pairs: committed ticks by status letter (``letter``), ``q`` requests given,
-- ``d`` requests dropped (only once one was).  One field, not one per count:
-- each field of a large hash costs ~70 bytes of Redis.  Written for the
-- whole flush at its end (``flush_later``).
local field = 's:' .. name
local adds = later.adds
local a = #adds
adds[a + 1], adds[a + 2], adds[a + 3] = field, letter, 1
if #requests > 0 then
  local _, dropped = string.gsub(flags, '0', '')
  adds[a + 4], adds[a + 5], adds[a + 6] = field, 'q', #requests
  if dropped > 0 then
    adds[a + 7], adds[a + 8], adds[a + 9] = field, 'd', dropped
  end
end
-- [end counters]
if flags == '' then
  return 1
end
return flags
end
"""
)

COMMIT = _script(
    COMMIT_TICK
    + """
local later = {names = {}, due = {}, adds = {}, counters = KEYS[8]}
local C = {A.sensor, A.tick, A.record, A.started, A.next_due, A.status, A.reason, A.fold}
return flushed(later, KEYS[6], pcall(commit_tick, KEYS, C, 0, A, later, A))
"""
)

# COMMIT_MANY: the ticks of one flush, each committed by commit_tick as
# COMMIT commits it: atomic and at most once on its own (a tick whose lease
# was lost is refused, the others still commit; the same flush sent again
# finds each tick committed and changes nothing), in one round trip.  What
# every tick of a flush shares is sent once: the history's retention, the
# holder, the shared keys; a tick's own keys (its hash, its history, its
# run-key hash) are named from the prefixes and its sensor, as TAKE_UP names
# the hashes; only the keys some ticks add (events, asset streams,
# partitions) are listed per tick.
# KEYS: inflight zset, claimed zset, launch stream, due zset, counters hash,
#       then every other key the ticks name, each once
# A: hash_prefix, ticks_prefix, run_keys_prefix, holder, size, max_age,
#    first and last (the earliest and the latest of the commits' starts),
#    commits ({sensor, tick, record, started, next_due, status, reason
#    (false for none, and when fold is false), fold, {k = {index in KEYS of
#    its COMMIT KEYS[9], KEYS[10], ...} or nil, and COMMIT's other named
#    arguments but size and max_age; holder only when not A.holder,
#    requests only when any, cursor only when stored} or false when empty,
#    sensor, tick, ...}: nine values a tick, in order, flat: by position, as
#    a flush's every tick has the first eight, their names not decoded and
#    no table made per tick)
# Returns per tick what COMMIT returns.
COMMIT_MANY = _script(
    COMMIT_TICK
    + """
local later = {names = {}, due = {}, adds = {}, counters = KEYS[5]}
local out = {}
local commits, hash_prefix, ticks_prefix = A.commits, A.hash_prefix, A.ticks_prefix
-- One KEYS table for every tick (commit_tick keeps none of it): its own keys
-- set per tick, the run-key hash only for a tick that takes run keys, the
-- further keys cleared after the tick that named them.
local K = {LEASES, CLAIMED, false, false, KEYS[3], KEYS[4], false, KEYS[5]}
local function commit_all()
  for i = 1, #commits / 9 do
    local at = 9 * (i - 1)
    local name, more = commits[at + 1], commits[at + 9] or NONE
    K[3], K[4] = hash_prefix .. name, ticks_prefix .. name
    local extra = 0
    if more ~= NONE then
      if more.requests or more.run_keys then
        K[7] = A.run_keys_prefix .. name
      end
      for j, at in ipairs(more.k or NONE) do
        K[j + 8] = KEYS[at]
        extra = j
      end
    end
    -- What the flush shares (holder, size, max_age) commit_tick reads from A.
    out[i] = commit_tick(K, commits, at, more, later, A)
    K[7] = false
    for j = extra + 8, 9, -1 do
      K[j] = nil
    end
  end
  return out
end
-- One pcall for the flush: an error stops it at its tick, as one per tick did.
return flushed(later, KEYS[4], pcall(commit_all))
"""
)

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
GIVE_BACK = _script("""
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
RELEASE = _script("""
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
ABANDON = _script("""
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

LEASE_SCRIPTS = {
    "lease_claim": CLAIM,
    "lease_claim_due": CLAIM_DUE,
    "lease_publish": PUBLISH,
    "lease_begin": BEGIN,
    "lease_take_up": TAKE_UP,
    "lease_renew": RENEW,
    "lease_commit": COMMIT,
    "lease_commit_many": COMMIT_MANY,
    "lease_give_back": GIVE_BACK,
    "lease_release": RELEASE,
    "lease_abandon": ABANDON,
}
