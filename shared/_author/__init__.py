"""The author API: what a code location is written with.

Definitions, decorators, contexts, results and in-process execution, under
Dagster's names so that Dagster code runs with only the import changed
(``lookout/__init__.py`` re-exports the public names).  It stands on
``lookout._base`` (errors, wire types, codec) and imports nothing else of
lookout: no Redis, no Celery, no processes.  The runtime evaluates what this
layer defines; this layer never knows the runtime exists.
"""
