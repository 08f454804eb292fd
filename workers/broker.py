"""kombu's Redis transport, made to survive Redis restarts and raw items on its queues.

Two faults of kombu's Redis channel killed a worker's main process:

- **A Redis restart.**  When the connection is lost, Celery collects the
  broken connection and then closes it.  Closing a channel that is waiting on
  BRPOP first reads that reply (kombu PR #1733, so that a popped message is
  not lost); with Redis down that read raises a connection error *before* the
  channel is marked closed, so the collect leaves it open and detaches the
  transport (``transport.client = None``).  The close that follows tries to
  restore the unacknowledged messages, builds a new pool from the detached
  transport and fails with ``AttributeError: 'NoneType' object has no
  attribute 'hostname'`` -- not a connection error, so Celery calls it
  unrecoverable and the worker exits.  Here the pending read's connection
  error is absorbed, so the channel closes the first time; a restore that
  meets Redis down leaves the messages in kombu's unacked index in Redis
  (they are restored after the visibility timeout, kombu's own recovery);
  and a channel whose transport is gone raises a connection error, which
  Celery handles, instead of an ``AttributeError``.
- **A raw item on a queue.**  kombu decodes each popped item as JSON before
  any Celery hook sees it; ``LPUSH <queue> 'not json'`` raised
  ``JSONDecodeError`` in the event loop and the item was lost.  Here every
  popped item is checked first: one that is not a kombu message envelope goes
  to lookout's dead-letter stream with the reason, and the poll goes on as if
  the queue had been empty.  (A well-formed envelope whose body Celery cannot
  read is dead-lettered by ``lookout.workers.consumer``.)

And one fault under a Redis ACL user limited to lookout's channels
(``&lookout:*``): kombu listens on its fanout channels (the workers' remote
control, ``celery.pidbox``; Celery's events for Flower) with PSUBSCRIBE, and
Redis checks a PSUBSCRIBE pattern *literally* against the user's channel
patterns, so ``lookout:celery:/0.celery.pidbox`` was refused
(``NoPermissionError``) and the worker exited.  A topic without glob
characters matches only itself, so here it is listened to with SUBSCRIBE,
which the ACL checks as a channel name: the same messages, and permitted.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from queue import Empty
from typing import Any

import redis
from kombu.transport import redis as kombu_redis

from lookout._base.wire import DeadLetter
from lookout._core.keys import Keys
from lookout._core.storage import DeadLetterStore
from lookout._core.transient import TRANSIENT_ERRORS

log = logging.getLogger(__name__)

# What makes a Redis channel pattern more than one channel's name.
_GLOB = re.compile(r"[*?\[\\]")


def envelope_problem(item: bytes) -> str | None:
    """Why ``item`` is not a message kombu can deliver, or ``None`` if it is one."""
    try:
        payload = json.loads(item)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        return f"not a JSON message envelope: {exc}"
    if not isinstance(payload, dict):
        return f"not a message envelope: a JSON {type(payload).__name__}, not an object"
    return _properties_problem(payload.get("properties")) or _body_problem(payload)


def _properties_problem(properties: Any) -> str | None:
    if not isinstance(properties, dict):
        return "message envelope without properties"
    if not isinstance(properties.get("delivery_tag"), str):
        return "message envelope without a delivery tag"
    info = properties.get("delivery_info")
    if not isinstance(info, dict) or "exchange" not in info or "routing_key" not in info:
        return "message envelope without delivery info (exchange, routing key)"
    return None


def _body_problem(payload: dict[str, Any]) -> str | None:
    if not isinstance(payload.get("headers") or {}, dict):
        return "message envelope whose headers are not an object"
    encoding = payload["properties"].get("body_encoding")
    body = payload.get("body")
    if encoding is None or not body:
        return None
    if encoding != "base64" or not isinstance(body, str):
        return f"message body in an unknown encoding {encoding!r}"
    try:
        base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        return f"message body is not base64: {exc}"
    return None


class ScreenedRedis(kombu_redis.PrefixedStrictRedis):
    """kombu's client, checking each item it pops before kombu decodes it."""

    def _kombu(self) -> Any:
        # kombu's methods, which carry no type hints.
        return super()

    def __init__(self, *args: Any, screen: Callable[[bytes, bytes], bool], **kwargs: Any) -> None:
        self._screen = screen
        self._kombu().__init__(*args, **kwargs)

    def parse_response(self, connection: Any, command_name: Any, **options: Any) -> Any:
        # The consumer's path: kombu sends BRPOP and reads the reply here.
        reply = self._kombu().parse_response(connection, command_name, **options)
        if command_name == "BRPOP" and reply and not self._screen(reply[0], reply[1]):
            return None  # as if BRPOP timed out: kombu polls again
        return reply

    def execute_command(self, *args: Any, **options: Any) -> Any:
        # The synchronous path (``basic_get``): kombu RPOPs each queue.
        reply = self._kombu().execute_command(*args, **options)
        if args and args[0] == "RPOP" and reply:
            key = args[1] if isinstance(args[1], bytes) else str(args[1]).encode()
            return reply if self._screen(key, reply) else None
        return reply


class ChannelQoS(kombu_redis.QoS):
    """kombu's acknowledgement bookkeeping, which a lost Redis does not make fatal."""

    def _kombu(self) -> Any:
        # kombu's methods, which carry no type hints.
        return super()

    def restore_unacked(self, client: Any = None) -> None:
        try:
            self._kombu().restore_unacked(client)
        except TRANSIENT_ERRORS as exc:
            # They are still in kombu's unacked index in Redis, which any
            # worker restores once the visibility timeout has passed.
            log.warning(
                "%d unacknowledged messages not restored now (%s): they come back "
                "after the visibility timeout",
                len(self._delivered),
                exc,
            )
            self._delivered.clear()


class Channel(kombu_redis.Channel):
    """kombu's Redis channel, with the two faults above fixed."""

    QoS = ChannelQoS

    def _kombu(self) -> Any:
        # kombu's methods, which carry no type hints.
        return super()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lookout_client: Any = None
        self._kombu().__init__(*args, **kwargs)
        # Where raw items go: lookout's key prefix and dead-letter cap, given as
        # transport options (plain values: Celery reports them to ``inspect``).
        options = self.connection.client.transport_options
        self.lookout_key_prefix: str | None = options.get("lookout_key_prefix")
        self.lookout_dead_letter_max = int(options.get("lookout_dead_letter_max", 10_000))

    @contextlib.contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        # kombu builds a new client object for every publish and every
        # acknowledgement: redis-py's constructor alone was ~15% of the
        # scheduler's CPU and ~25% of a worker's main process.  A client holds
        # no connection of its own (it borrows one from the channel's pool for
        # each command), so one per channel and pool serves them all.
        if client:
            yield client
            return
        cached = self._lookout_client
        if cached is None or cached.connection_pool is not self.pool:
            cached = self._lookout_client = self._kombu()._create_client()
        yield cached

    def close(self) -> None:
        if self._in_poll:
            # What kombu's close does first, but a lost connection is expected
            # here: Redis went away while this channel waited on BRPOP.
            try:
                self._kombu()._brpop_read()
            except Empty:
                pass
            except TRANSIENT_ERRORS as exc:
                log.info("closing a broker channel whose Redis went away: %s", exc)
        self._kombu().close()

    def _subscribe(self) -> None:
        topics = [
            topic
            for queue in self.active_fanout_queues
            for topic in self._kombu()._get_subscribe_topics(queue)
        ]
        if not topics:
            return
        client = self.subclient
        if client.connection._sock is None:
            client.connection.connect()
        self._in_listen = client.connection
        plain = [topic for topic in topics if not _GLOB.search(topic)]
        patterns = [topic for topic in topics if _GLOB.search(topic)]
        if plain:
            client.subscribe(plain)
        if patterns:
            client.psubscribe(patterns)

    def _unsubscribe_from(self, queue: str) -> None:
        topics = self._kombu()._get_subscribe_topics(queue)
        client = self.subclient
        if client.connection and client.connection._sock:
            plain = [topic for topic in topics if not _GLOB.search(topic)]
            patterns = [topic for topic in topics if _GLOB.search(topic)]
            if plain:
                client.unsubscribe(plain)
            if patterns:
                client.punsubscribe(patterns)

    def _connparams(self, asynchronous: bool = False) -> Any:
        transport = self.connection
        if transport is None or transport.client is None:
            # An ack or restore on a channel of a connection already closed.
            raise redis.ConnectionError("this broker channel's connection is closed")
        return self._kombu()._connparams(asynchronous=asynchronous)

    def _get_client(self) -> Any:
        self._kombu()._get_client()  # kombu's check of the redis-py version
        return functools.partial(
            ScreenedRedis, global_keyprefix=self.global_keyprefix, screen=self._screen
        )

    def _screen(self, key: bytes, item: bytes) -> bool:
        problem = envelope_problem(item)
        if problem is None:
            return True
        queue = key.decode(errors="replace").rsplit(self.sep, 1)[0]
        self._bury(f"queue:{queue}", problem, item)
        return False

    def _bury(self, source: str, reason: str, item: bytes) -> None:
        letter = DeadLetter(source=source, reason=reason, payload=item, at=time.time())
        try:
            if self.lookout_key_prefix is None:
                raise RuntimeError("no dead-letter stream for this broker connection")
            # The channel's own pool, without kombu's key prefix.
            letters = DeadLetterStore(
                redis.Redis(connection_pool=self.pool), Keys(self.lookout_key_prefix)
            )
            letters.add(letter, self.lookout_dead_letter_max)
        except Exception:
            log.exception("item on %s lost, not dead-lettered (%s): %r", source, reason, item[:200])
            return
        log.warning("item on %s dead-lettered: %s", source, reason)


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with lookout's channel; ``broker_transport`` names it."""

    Channel = Channel
