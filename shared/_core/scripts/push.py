"""Scripts of the push API: a pushed run launch, and a trigger payload read by its tick."""

from __future__ import annotations

# PUSH_LAUNCH: a run pushed through the API, deduplicated by its run key
# exactly like a sensor's RunRequest in COMMIT (invariant 3): the key is
# claimed in the run-key hash of the push source's pseudo-sensor (its name
# cannot be a sensor's, so the two never collide) and the request goes to the
# launch stream in the same step, so a key yields one launch, ever, however
# often and from however many clients it is pushed.  The key's value is the
# request id of its launch, so that a repeated push can say which run it got.
# Without a run key the request is always launched.
# KEYS: run-key hash of the pseudo-sensor, launch stream
# ARGV: has run key ("1"/"0"), run key, request id, launch entry
# Returns {1, request id} when launched, {0, request id of the earlier launch}
# when the key was used already.
PUSH_LAUNCH = """
if ARGV[1] == '1' then
  local earlier = redis.call('HGET', KEYS[1], ARGV[2])
  if earlier then
    return {0, earlier}
  end
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
end
redis.call('XADD', KEYS[2], '*', 'd', ARGV[4])
return {1, ARGV[3]}
"""

# CLEAR_PAYLOAD: a committed tick removes the trigger payload it read, unless a
# newer one replaced it meanwhile (each packed payload carries an id of its
# own, so equal bytes are the same payload).
# KEYS: sensor hash; ARGV: the packed payload the tick read.
# Returns 1 when removed.
CLEAR_PAYLOAD = """
if redis.call('HGET', KEYS[1], 'payload') == ARGV[1] then
  return redis.call('HDEL', KEYS[1], 'payload')
end
return 0
"""

PUSH_SCRIPTS = {"push_launch": PUSH_LAUNCH, "clear_payload": CLEAR_PAYLOAD}
