"""The operator's tools: the ``lookout`` CLI, the monitor, ``lookout dev``.

Loading a code location, the embedded redis-server, the operator's actions on
stored state, the demo.  The top layer: it may import every layer below
(processes, core, author API, base); nothing below imports it.
"""
