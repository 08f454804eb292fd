"""The cached process id the evaluation timer and the memory limit read on every tick.

They use it to notice that they run in a new pool process after a fork, so
a child must read its own id, never its parent's.
"""

from __future__ import annotations

import os

from lookout._process.pid import current_pid


def test_the_cached_process_id_is_each_forked_childs_own() -> None:
    assert current_pid() == os.getpid()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report what it reads, then leave at once
        os.write(write, f"{current_pid()} {os.getpid()}".encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    seen, own = os.read(read, 100).decode().split()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert int(seen) == int(own) == child
    assert current_pid() == os.getpid() != child
