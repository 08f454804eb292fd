"""The monitor: Prometheus metrics, ``/healthz``, the status page and ``lookout queues``.

Everything here reads Redis when asked (a scrape, a page load, a refresh of
``lookout queues``) with bounded queries; nothing runs in the background.
State changes from the status page go through ``lookout._tools.operator``, the same
functions the ``lookout sensor`` commands call.
"""

from lookout._tools.monitor.app import MonitorApp, Response
from lookout._tools.monitor.collector import LookoutCollector
from lookout._tools.monitor.figures import Figures, QueueFigure, read_figures
from lookout._tools.monitor.server import MonitorServer
from lookout._tools.monitor.ticks import TickTracker

__all__ = [
    "Figures",
    "LookoutCollector",
    "MonitorApp",
    "MonitorServer",
    "QueueFigure",
    "Response",
    "TickTracker",
    "read_figures",
]
