"""The vocabulary every layer shares: errors, wire types and their codec.

``errors`` is lookout's exception hierarchy, ``wire`` the frozen dataclasses
that are stored in Redis and sent over queues, ``codec`` the one place that
turns them (and cursors) into msgpack bytes and back, ``fast_init`` the
cheaper ``__init__`` of the frozen dataclasses built on every tick.  This
layer imports nothing of lookout; every other layer may import it.
"""
