"""What the Dagster docs tests share: the folders their locations read, ticking, launches."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookout.testing import LaunchRequest, TickRecord, TickRunner, launch_requests

LOCATIONS = Path(__file__).parent / "locations"


@pytest.fixture
def inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder the docs' directory sensors watch (``DOCS_INBOX``)."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    monkeypatch.setenv("DOCS_INBOX", str(folder))
    return folder


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file the docs' alerting sensors write to instead of Slack (``DOCS_OUTBOX``)."""
    path = tmp_path / "outbox.txt"
    path.write_text("")
    monkeypatch.setenv("DOCS_OUTBOX", str(path))
    return path


def tick(runner: TickRunner, name: str) -> TickRecord:
    """Tick ``name`` once; it must commit."""
    record = runner.tick(name)
    assert record is not None
    return record


def launched(runner: TickRunner) -> list[LaunchRequest]:
    """Every run request on the launch stream, oldest first."""
    return launch_requests(runner)
