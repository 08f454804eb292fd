"""A script call sent now and its reply read later, so the caller works while Redis runs it.

A worker process evaluates the next ticks of its message while Redis runs
the commit of the ones before (``TickLedger.send_commit_many``): the commit
is written to a connection of its own, taken from the client's pool, and its
reply is read when the caller asks for it; the connection then goes back
to the pool.  One call per connection at a time: a reply is never read out
of order.

What can go wrong is handled as the client's own ``Script`` call handles it,
so a sent call means what a called one does:

- ``NOSCRIPT`` (Redis restarted, or a replica promoted, without the script):
  the call is made again through the ``Script``, which loads it; the script
  did not run.
- A dropped connection (before or after the call was written): the call is
  made again through the ``Script`` (the client's retries, with backoff), as
  the client retries a ``ConnectionError``: the calls sent so must answer a
  resend as they answered the first (``COMMIT_MANY`` does).
- A timeout, or any other error: the connection is closed (a reply may still
  be on its way) and the error goes to the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError


class _Connection(Protocol):
    """What this module uses of a pooled connection (redis-py leaves these untyped)."""

    def send_command(self, *args: Any) -> None: ...

    def read_response(self) -> Any: ...

    def disconnect(self) -> None: ...


T = TypeVar("T")


class SentCall:
    """One script call on its way; ``reply()`` waits for its answer (once)."""

    def __init__(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[bytes],
        sent_on: tuple[_Connection, Callable[[], None]] | None,
    ) -> None:
        self._script = script
        self._keys = list(keys)
        self._args = list(args)
        # The connection the call was written to and what gives it back to its
        # pool; None: not written (reply() makes the call).
        self._sent_on = sent_on

    def reply(self) -> Any:
        """The script's reply, read from its connection (or made again: see the module)."""
        sent_on, self._sent_on = self._sent_on, None
        if sent_on is None:
            return self._again()
        connection, release = sent_on
        try:
            return connection.read_response()
        except (NoScriptError, redis.ConnectionError):
            connection.disconnect()
            return self._again()
        except BaseException:
            connection.disconnect()
            raise
        finally:
            release()

    def _again(self) -> Any:
        return self._script(keys=self._keys, args=self._args)


def send_script(
    client: redis.Redis, script: Script, keys: Sequence[str], args: Sequence[bytes]
) -> SentCall:
    """Write ``script``'s call (by its SHA-1) on a connection of its own; read it with ``reply()``.

    A connection that cannot be had or written to now leaves the call to
    ``reply()``, which makes it through the client (with its retries).
    """
    pool = client.connection_pool
    try:
        pooled = pool.get_connection()
    except redis.ConnectionError:
        return SentCall(script, keys, args, None)
    connection: _Connection = pooled
    release = partial(pool.release, pooled)
    try:
        connection.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
    except BaseException as exc:
        connection.disconnect()
        release()
        if isinstance(exc, redis.ConnectionError):
            return SentCall(script, keys, args, None)
        raise
    return SentCall(script, keys, args, (connection, release))


class Sent(Generic[T]):
    """A repository's call on its way: ``result()`` waits for its reply and reads it."""

    def __init__(self, call: SentCall | None, read: Callable[[Any], T], empty: T) -> None:
        self._call = call
        self._read = read  # the reply -> the result
        self._empty = empty  # the result of a call not made (nothing to do)

    def result(self) -> T:
        """What the call answers (once); raises what it raised."""
        return self._empty if self._call is None else self._read(self._call.reply())
