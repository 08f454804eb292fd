"""The monitor: Prometheus metrics, ``/healthz``, the status page and ``lookout queues``.

Everything here reads Redis when asked (a scrape, a page load, a refresh of
``lookout queues``) with bounded queries; nothing runs in the background.
State changes from the status page go through ``shared._operator``, the same
functions the ``lookout sensor`` commands call.
"""

from shared._monitor.app import MonitorApp, Response
from shared._monitor.collector import LookoutCollector
from shared._monitor.figures import Figures, QueueFigure, read_figures
from shared._monitor.server import MonitorServer
from shared._monitor.ticks import TickTracker

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
