"""What the processes share: evaluating a tick, heartbeats, start-up guards.

``tick`` evaluates one sensor tick (state in, user code under a time limit,
one atomic commit out) for the worker and for the operator's one-off ticks;
``heartbeat`` and ``guards`` serve every long-running process.  Together with
``lookout.scheduler`` and ``lookout.workers`` this is the process layer: it
may import the author API, the core and the base, never the tools.
"""
