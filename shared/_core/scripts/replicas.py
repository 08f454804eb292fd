"""Scripts for a primary with replicas: a committed tick the replicas did not confirm."""

from __future__ import annotations

# TICK_UNCONFIRMED: a tick committed on the primary whose commit no quorum of
# replicas confirmed in time (LOOKOUT_REDIS_MIN_REPLICAS) is reported as a
# FAILURE: its history entry is replaced by the same record with status
# FAILURE and the cause (the newest is the head of the history: the
# sensor's hash keeps no copy of it since this version).  The
# commit itself stands (it cannot be undone): its runs wait for the replicas
# at the launchers.  Nothing changes when the entry is no longer among the
# newest ``depth`` (trimmed, or rewritten already).
# KEYS: the sensor's tick history.
# ARGV[1]: msgpack map: old (the entry as committed), new (its replacement),
# depth (how many of the newest entries to look through).
# Returns 1 when replaced, 0 when the entry was not found.
TICK_UNCONFIRMED = """
local A = cmsgpack.unpack(ARGV[1])
local entries = redis.call('LRANGE', KEYS[1], 0, A.depth - 1)
for i, entry in ipairs(entries) do
  if entry == A.old then
    redis.call('LSET', KEYS[1], i - 1, A.new)
    return 1
  end
end
return 0
"""

REPLICA_SCRIPTS = {"tick_unconfirmed": TICK_UNCONFIRMED}
