"""Prometheus' promtool, for the tests of the shipped rules and dashboard.

It comes from Debian's ``prometheus`` package: ``make promtool`` (run by
``make pytest``) installs it where apt-get runs as root; elsewhere the tests
marked ``needs_promtool`` skip with that reason.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.promql_queries import RULES

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian's prometheus package: `make promtool` as root)",
)


def promtool(*args: str, cwd: Path = RULES.parent) -> subprocess.CompletedProcess[str]:
    """Run promtool in ``cwd`` (rule files name their tests' files relative to it)."""
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
