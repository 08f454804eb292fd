"""The eviction guard: a Redis that may evict any key is refused, volatile-* only warned about."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from lookout import LookoutError
from lookout._process.guards import check_eviction_policy
from lookout.testing import Repositories

log = logging.getLogger("test.guard")


@pytest.fixture
def policy(storage: Repositories) -> Iterator[Repositories]:
    yield storage
    storage.client.config_set("maxmemory-policy", "noeviction")


@pytest.mark.parametrize("name", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_allkeys_policies_are_refused(policy: Repositories, name: str) -> None:
    policy.client.config_set("maxmemory-policy", name)
    with pytest.raises(LookoutError, match=f"maxmemory-policy is {name}.*noeviction"):
        check_eviction_policy(policy.server, log)


def test_volatile_policies_are_allowed_with_a_warning(
    policy: Repositories, caplog: pytest.LogCaptureFixture
) -> None:
    policy.client.config_set("maxmemory-policy", "volatile-lru")
    with caplog.at_level(logging.WARNING, logger="test.guard"):
        assert check_eviction_policy(policy.server, log) == "volatile-lru"
    assert "volatile-lru" in caplog.text


def test_noeviction_passes_quietly(policy: Repositories, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="test.guard"):
        assert check_eviction_policy(policy.server, log) == "noeviction"
    assert caplog.text == ""
