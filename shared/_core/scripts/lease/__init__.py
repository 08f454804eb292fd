"""The tick lease: every transition of a sensor's tick, in one Lua source.

A sensor has at most one tick in flight, held by one lease on its hash:
``inflight`` (the tick id), ``holder`` (the process evaluating it, once one
began it) and ``began``, with the lease's expiry as the sensor's score in the
``inflight`` zset.  Nothing else writes these fields.  Every lease time is
Redis's own (``TIME`` inside the script), so the hosts' clocks never decide
whether a lease holds; due times (the ``due`` index) stay on the
scheduler's clock, which the callers pass as ``now``.

The transitions::

    claim_due           -> claimed     (the leader's round; in ``claimed``)
    publish / claim     -> published   (its message is on the queue; by hand)
    begin / take_up     -> held        (a process evaluates it; renewed)
    commit / commit_many-> gone        (its effects, once)
    give_back / release -> gone        (not evaluated; due again / parked)
    abandon             -> gone        (its process died: a FAILURE with why)
    expire              -> gone        (the sweep: lease lapsed; FAILURE
                                        once a process began it)

Every script takes its arguments by name: ``ARGV[1]`` is one msgpack map
(strings as msgpack str, which Lua's cmsgpack reads byte for byte), decoded
into ``A`` at the top; each script's header lists the names it reads.  Every
script's first two keys are the ``inflight`` zset (each lease's expiry, the
sweep's index) and the ``claimed`` zset (the leader's claiming rounds not yet
published: a tick's round is its id without the last 8 hex digits).

Each transition's scripts live in the module named for it: ``claim``
(CLAIM, CLAIM_DUE, PUBLISH), ``take_up`` (BEGIN, TAKE_UP, RENEW), ``commit``
(COMMIT, COMMIT_MANY) and ``ends`` (GIVE_BACK, RELEASE, ABANDON).  Every
script is ``base.script``: the named arguments, then every helper, the
history's (``history``) and the sweep's (``sweep``) among them, then its body.
"""

from __future__ import annotations

from lookout._core.scripts.lease.base import EARLIEST
from lookout._core.scripts.lease.claim import CLAIM, CLAIM_DUE, PUBLISH
from lookout._core.scripts.lease.commit import COMMIT, COMMIT_MANY
from lookout._core.scripts.lease.ends import ABANDON, GIVE_BACK, RELEASE
from lookout._core.scripts.lease.take_up import BEGIN, RENEW, TAKE_UP

LEASE_SCRIPTS = {
    "lease_claim": CLAIM,
    "lease_claim_due": CLAIM_DUE,
    "lease_publish": PUBLISH,
    "lease_begin": BEGIN,
    "lease_take_up": TAKE_UP,
    "lease_renew": RENEW,
    "lease_commit": COMMIT,
    "lease_commit_many": COMMIT_MANY,
    "lease_give_back": GIVE_BACK,
    "lease_release": RELEASE,
    "lease_abandon": ABANDON,
}

__all__ = ["EARLIEST", "LEASE_SCRIPTS"]
