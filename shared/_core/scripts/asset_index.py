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

# APPEND_ASSET: one asset event appended outside a tick or a run (reported
# through the push API, for one), indexed under its asset as those are.
# KEYS: events stream, the asset's stream, the asset's partitions hash
# ARGV: the event (msgpack RunEvent), its partition ("" for none)
# Returns the entry id.
APPEND_ASSET = (
    APPEND_ASSET_EVENT
    + """
return append_asset_event(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])
"""
)

ASSET_SCRIPTS = {"append_asset": APPEND_ASSET}
