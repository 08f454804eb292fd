"""Operational guards: refuse to run where Redis could silently lose lookout's keys."""

from __future__ import annotations

import logging

import redis

from lookout._base.errors import LookoutError
from lookout._core.storage import ServerChecks


class EvictionPolicyError(LookoutError):
    """Redis is configured to evict keys that lookout must never lose."""


def check_eviction_policy(server: ServerChecks, log: logging.Logger) -> str:
    """Refuse an ``allkeys-*`` eviction policy, warn for ``volatile-*``; returns the policy.

    Evicted run keys mean duplicate runs (invariant 3), evicted in-flight marks
    mean overlapping ticks (invariant 1): with ``allkeys-*`` Redis may drop any
    of them when full.  ``volatile-*`` only evicts keys with a TTL (lookout's
    locks and heartbeats), which breaks leadership rather than data, so it is
    allowed with a warning.  A Redis that hides its configuration is trusted
    with a warning.
    """
    try:
        policy = server.maxmemory_policy()
    except redis.ResponseError as exc:
        log.warning("cannot read Redis's maxmemory-policy (%s); make sure it is noeviction", exc)
        return "unknown"
    if policy.startswith("allkeys-"):
        raise EvictionPolicyError(
            f"Redis's maxmemory-policy is {policy}: Redis may evict lookout's run keys and "
            "in-flight marks when memory is full, which would launch duplicate runs. Set "
            "maxmemory-policy noeviction (redis.conf, or CONFIG SET maxmemory-policy "
            "noeviction) and give Redis enough memory."
        )
    if policy.startswith("volatile-"):
        log.warning(
            "Redis's maxmemory-policy is %s: keys with a TTL (leader lock, heartbeats) may be "
            "evicted when memory is full; noeviction is recommended",
            policy,
        )
    return policy
