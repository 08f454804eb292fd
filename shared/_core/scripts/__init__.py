"""Lua scripts: each is one atomic change to several keys, with a comment on what it guarantees.

Split by what they serve: a tick's lease, its whole life (``lease``), a run's life
(``runs``), the scheduler (``scheduling``), dynamic partitions changed
outside a tick (``partitions``), the push API (``push``) and a commit the
replicas did not confirm (``replicas``).  Each storage
repository registers, by name, only the scripts of ``SCRIPTS`` it calls.
"""

from __future__ import annotations

from types import MappingProxyType

from lookout._core.scripts.asset_index import ASSET_SCRIPTS
from lookout._core.scripts.lease import LEASE_SCRIPTS
from lookout._core.scripts.partitions import PARTITION_SCRIPTS
from lookout._core.scripts.push import PUSH_SCRIPTS
from lookout._core.scripts.replicas import REPLICA_SCRIPTS
from lookout._core.scripts.runs import RUN_SCRIPTS
from lookout._core.scripts.scheduling import SCHEDULER_SCRIPTS

# Every script, by the name the storage calls it with (read only).
SCRIPTS = MappingProxyType(
    {
        **LEASE_SCRIPTS,
        **RUN_SCRIPTS,
        **SCHEDULER_SCRIPTS,
        **PARTITION_SCRIPTS,
        **PUSH_SCRIPTS,
        **ASSET_SCRIPTS,
        **REPLICA_SCRIPTS,
    }
)

__all__ = ["SCRIPTS"]
