"""Scripts of dynamic partitions changed outside a tick (``instance.add_dynamic_partitions``).

A tick's own changes are the DYNAMIC PARTITIONS block of ``ticks.COMMIT``;
both keep a definition's keys in the order they were first added.
"""

from __future__ import annotations

# ADD_PARTITIONS: add keys to a dynamic partitions definition, each absent one
# after the last (the highest score + 1), in the order given; a present key
# keeps its place.  Atomic, so two adders never give two keys one place.
# KEYS: the definition's partitions zset; ARGV: the partition keys.
# Returns how many keys were new.
ADD_PARTITIONS = """
local added = 0
for _, key in ipairs(ARGV) do
  if not redis.call('ZSCORE', KEYS[1], key) then
    local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
    redis.call('ZADD', KEYS[1], (tonumber(top[2]) or 0) + 1, key)
    added = added + 1
  end
end
return added
"""

PARTITION_SCRIPTS = {"add_partitions": ADD_PARTITIONS}
