"""The runtime core: settings, the Redis key layout, Lua scripts and storage.

``keys`` names every Redis key and documents the layout; ``scripts`` holds
every multi-key change that must be atomic, one Lua script each; ``storage``
is the only code that talks to Redis.  It imports ``lookout._base`` and
nothing above it: not the author API, not the processes, not the tools.
"""
