"""The Lua function that appends an asset event together with its per-asset index entries.

Put before the scripts that append asset events (a tick's commit, a run's
emit), so both keep the index the same way, in the same atomic step as the
event itself.
"""

from __future__ import annotations

# About this many events are kept per asset and kind (materialized, observed);
# the partitions hash is not trimmed.
ASSET_EVENTS_KEPT = 100_000

# append_asset_event(events, stream, partitions, payload, partition): append
# one asset event to the event stream and, under the SAME entry id, to its
# asset's stream (capped, approximately, at ASSET_EVENTS_KEPT); a
# materialization's partition ("" for none, and for observations) becomes
# that partition's newest in the asset's partitions hash.  Reusing the id is
# safe because the event stream's ids ascend (it is trimmed, never deleted),
# and every asset stream entry is one of them.  Returns the entry id.
APPEND_ASSET_EVENT = f"""
local function append_asset_event(events, stream, partitions, payload, partition)
  local id = redis.call('XADD', events, '*', 'd', payload)
  redis.call('XADD', stream, 'MAXLEN', '~', '{ASSET_EVENTS_KEPT}', id, 'd', payload)
  if partition ~= '' then
    redis.call('HSET', partitions, partition, id)
  end
  return id
end
"""
