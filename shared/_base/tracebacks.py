"""Tracebacks as a user reads them: starting at the user's own code.

A sensor's or an op's exception travels up through lookout's evaluation
machinery (the timeout, the tick runner, the plan executor) before lookout
records it; those frames tell the user nothing and push their own code out of
sight.  ``user_traceback`` drops the leading frames that are lookout's or the
standard library's, up to the first frame of other code, and keeps the whole
chain (``raise ... from``, exceptions during handling) as Python prints it.
"""

from __future__ import annotations

import sysconfig
import traceback
from types import TracebackType

_STDLIB = tuple(
    p for p in {sysconfig.get_paths().get("stdlib"), sysconfig.get_paths().get("platstdlib")} if p
)


def _machinery(tb: TracebackType) -> bool:
    """Whether this frame is lookout's own (or the standard library's it ran through)."""
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    if module == "lookout" or module.startswith("lookout."):
        return True
    filename = tb.tb_frame.f_code.co_filename
    return bool(_STDLIB) and filename.startswith(_STDLIB) and "site-packages" not in filename


def user_frames(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` from its first frame that is neither lookout's nor the standard library's.

    ``tb`` itself when it has no such frame (an error lookout raised): then
    lookout's frames are where the story is.
    """
    found = tb
    while found is not None and _machinery(found):
        found = found.tb_next
    return found if found is not None else tb


def _only_machinery(tb: TracebackType | None) -> bool:
    while tb is not None:
        if not _machinery(tb):
            return False
        tb = tb.tb_next
    return True


def user_traceback(exc: BaseException) -> str:
    """The formatted traceback of ``exc`` and its chain, from the user's first frame.

    An error lookout raised from the user's (``raise ... from``, as a
    schedule's evaluation wraps what the function raised) holds no frame of
    the user's: then the user's error, with its own chain, is the traceback.
    """
    if exc.__cause__ is not None and _only_machinery(exc.__traceback__):
        exc = exc.__cause__
    return "".join(traceback.format_exception(type(exc), exc, user_frames(exc.__traceback__)))
