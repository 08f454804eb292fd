"""The tick history's Lua helpers: reading an entry, and ``write_record``.

``write_record`` adds an entry (or folds a like skip into the newest) under
the history's retention.

Lua functions, not scripts: ``base.HELPERS`` puts them in every lease script.
"""

from __future__ import annotations

HISTORY = """\
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
"""
