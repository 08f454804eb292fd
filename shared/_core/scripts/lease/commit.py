"""A tick's end by its commit: its whole effect, once (invariants 2 and 3)."""

from __future__ import annotations

from lookout._core.scripts.asset_index import APPEND_ASSET_EVENT
from lookout._core.scripts.lease.base import script
from lookout._core.scripts.run_keys import TAKE_RUN_KEYS

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

COMMIT = script(
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
COMMIT_MANY = script(
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
