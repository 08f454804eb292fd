"""The run-key step of a tick's commit, as one Lua function the commit script calls.

A sensor's run keys are the fields of its run-key hash.  In Dagster's
semantics a key, once used, is used forever: the field's value is "1".  A
lookout sensor may give its keys a lifecycle (both lookout extensions,
absent in Dagster): ``rerun_failed_run_keys`` (or a request's
``rerun_if_failed``) lets a key run again once the run it launched FAILED,
and ``run_key_ttl_seconds`` forgets a key that long after it was taken.
For such a sensor the value names the run the key launched, and a
companion zset holds when each key was taken.
"""

from __future__ import annotations

# How many forgotten keys one commit deletes at most: a sensor with a
# retention sheds its old keys over several commits, never in one long step.
RUN_KEY_TRIM = 100

# How many retries of a failed run the rerun check follows at most: a run
# that will be retried (Dagster's ``dagster/max_retries``) is not failed yet;
# its newest retry decides.  A longer chain counts as still running.
RETRY_HOPS = 16

# take_run_keys(hash, requests, opts): which of a tick's requests may launch,
# their keys taken in the same atomic step.  ``requests``: {{run key or "",
# entry[, rerun "1"/"", run id]}, ...}.  A request without a key launches; a
# key repeated within the tick counts as used after its first request; a used
# key drops its request.  Read with one HMGET per 1000 keys and taken with one
# HSET, which inside the atomic script is the same as an HSETNX per key.
# ``opts`` is nil for Dagster's semantics (the value is "1", nothing else is
# read or written).  Otherwise {run_prefix, ttl (s, 0: forever), times (the
# zset of when each key was taken), trim}: the value is the request's run id;
# a request flagged rerun takes a used key again when the run the key points
# to is FAILURE and will not be retried (following its retries), so never
# while a run of it is queued, running or not yet created, and never twice for
# one failure: the key then points to the new run.  A CANCELED run keeps its
# key (someone stopped it on purpose).  With a ttl, a key taken longer ago is
# free, and up to ``trim`` such keys are deleted by each commit.
# Returns the mask: per request index, '0' for dropped (others launch).
TAKE_RUN_KEYS = f"""
local function run_failed(run_prefix, run_id)
  local id = run_id
  for _ = 1, {RETRY_HOPS} do
    local f = redis.call('HMGET', run_prefix .. id, 'status', 'will_retry', 'retry_run_id')
    if f[1] ~= 'FAILURE' then
      return false
    end
    if f[2] ~= '1' then
      return true
    end
    if not f[3] then
      return false
    end
    id = f[3]
  end
  return false
end
local function take_run_keys(hash, requests, opts)
  local mask = {{}}
  local keyed = {{}}
  for i, r in ipairs(requests) do
    if r[1] ~= '' then
      keyed[#keyed + 1] = i
    end
  end
  local now, stale
  if opts and opts.ttl > 0 then
    local t = redis.call('TIME')
    now = tonumber(t[1]) + tonumber(t[2]) / 1000000
    stale = now - opts.ttl
    local old = redis.call('ZRANGEBYSCORE', opts.times, '-inf', stale, 'LIMIT', 0, opts.trim)
    if #old > 0 then
      redis.call('HDEL', hash, unpack(old))
      redis.call('ZREM', opts.times, unpack(old))
    end
  end
  local seen = {{}}
  for first = 1, #keyed, 1000 do
    local last = math.min(first + 999, #keyed)
    local names = {{}}
    for j = first, last do
      names[#names + 1] = requests[keyed[j]][1]
    end
    local used = redis.call('HMGET', hash, unpack(names))
    local at = stale and redis.call('ZMSCORE', opts.times, unpack(names))
    local fresh = {{}}
    local stamped = {{}}
    for j = first, last do
      local n = j - first + 1
      local key = names[n]
      local r = requests[keyed[j]]
      local taken = used[n]
      if taken and stale and at[n] and tonumber(at[n]) <= stale then
        taken = false
      end
      if taken and opts and r[3] == '1' and taken ~= '1' and not seen[key]
          and run_failed(opts.run_prefix, taken) then
        taken = false
      end
      if taken or seen[key] then
        mask[keyed[j]] = '0'
      else
        seen[key] = true
        fresh[#fresh + 1] = key
        fresh[#fresh + 1] = opts and r[4] or '1'
        if stale then
          stamped[#stamped + 1] = now
          stamped[#stamped + 1] = key
        end
      end
    end
    if #fresh > 0 then
      redis.call('HSET', hash, unpack(fresh))
    end
    if #stamped > 0 then
      redis.call('ZADD', opts.times, unpack(stamped))
    end
  end
  return mask
end
"""
