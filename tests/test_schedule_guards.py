"""A schedule's tick is guarded as a sensor's: its logs kept, its traceback from the user's code."""

from __future__ import annotations

from pathlib import Path

from lookout import Settings
from lookout.testing import Repositories, load_definitions, tick_runner

LOCATION = Path(__file__).resolve().parent / "locations" / "sched_guarded.py"


def test_a_failing_schedule_keeps_its_log_lines_and_a_traceback_from_its_own_code(
    storage: Repositories, settings: Settings
) -> None:
    runner = tick_runner(load_definitions(file=str(LOCATION)), storage, settings)
    record = runner.tick("tide_schedule")
    assert record is not None and record.status == "FAILURE"
    assert record.error is not None and "no tide table for 'Setubal'" in record.error
    assert any("reading the tide for Setubal" in line for line in record.logs)
    assert record.traceback is not None
    assert "in tide_height" in record.traceback and "sched_guarded.py" in record.traceback
    # It starts at the user's code: none of lookout's own frames come first.
    assert "lookout/_process" not in record.traceback
