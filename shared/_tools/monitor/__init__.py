"""The monitor: the web UI, Prometheus metrics, ``/healthz`` and ``lookout queues``.

Everything here reads Redis when asked (a scrape, a page load, a refresh of
``lookout queues``) with bounded queries; nothing runs in the background.
The web UI's reads and changes all go through ``MonitorState``; its changes
use ``lookout._tools.operator``, the same functions the ``lookout sensor``
commands call.  ``serve_monitor`` serves it; ``create_app`` is the ASGI app.
"""

from lookout._tools.monitor.collector import LookoutCollector
from lookout._tools.monitor.figures import Figures, QueueFigure, read_figures
from lookout._tools.monitor.serve import serve_monitor
from lookout._tools.monitor.state import MonitorState
from lookout._tools.monitor.ticks import TickTracker
from lookout._tools.monitor.web import MonitorWeb, create_app

__all__ = [
    "Figures",
    "LookoutCollector",
    "MonitorState",
    "MonitorWeb",
    "QueueFigure",
    "TickTracker",
    "create_app",
    "read_figures",
    "serve_monitor",
]
