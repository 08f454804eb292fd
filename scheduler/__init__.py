"""The scheduler: the due-time index, the leader lock and tick publishing.

``run_scheduler`` is what ``lookout scheduler`` runs; ``trigger_sensor`` asks
for an immediate tick from any Python process.
"""

from lookout.scheduler._leader import LeaderLock
from lookout.scheduler._loop import Scheduler, SchedulerStats
from lookout.scheduler._publish import TickPublisher, batch_sizes
from lookout.scheduler._run import run_scheduler
from lookout.scheduler._trigger import describe_trigger, trigger_sensor

__all__ = [
    "LeaderLock",
    "Scheduler",
    "SchedulerStats",
    "TickPublisher",
    "batch_sizes",
    "describe_trigger",
    "run_scheduler",
    "trigger_sensor",
]
