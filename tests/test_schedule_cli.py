"""``lookout schedule list/start/stop`` as a user runs them, against a real redis-server."""

from __future__ import annotations

import time
from pathlib import Path

from lookout import Settings
from lookout.testing import Repositories
from tests.conftest import Spawn
from tests.test_cli import lookout
from tests.test_dev import dev_env

LOCATION = ["-m", "tests.locations.sched_cron"]


def test_schedule_start_makes_it_due_at_its_next_fire_time_and_stop_unschedules(
    settings: Settings, storage: Repositories
) -> None:
    out = lookout(settings, "schedule", "start", "quay_schedule", *LOCATION)
    assert out.returncode == 0, out.stderr
    assert "schedule 'quay_schedule' is RUNNING" in out.stdout
    (due,) = storage.schedule.due_times(["quay_schedule"])
    assert due is not None and due % 300 == 0 and time.time() < due <= time.time() + 300

    listed = lookout(settings, "schedule", "list", *LOCATION)
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.startswith("quay_schedule"))
    assert "*/5 * * * *" in line and "Europe/Lisbon" in line and "quay_job" in line
    assert "RUNNING" in line and "UTC" in line

    assert lookout(settings, "schedule", "stop", "quay_schedule", *LOCATION).returncode == 0
    assert storage.schedule.due_times(["quay_schedule"]) == [None]
    assert storage.sensors.state("quay_schedule").status == "STOPPED"


def test_an_unknown_schedule_is_a_clear_error(settings: Settings) -> None:
    out = lookout(settings, "schedule", "start", "no_such", *LOCATION)
    assert out.returncode != 0
    assert "no schedule named 'no_such'" in out.stderr


def test_a_malformed_cron_fails_the_load_naming_the_schedule(
    settings: Settings, tmp_path: Path
) -> None:
    location = tmp_path / "bad_cron.py"
    location.write_text(
        "import lookout as dg\n"
        "@dg.op\ndef o() -> None: ...\n"
        "@dg.job\ndef j() -> None: o()\n"
        "bad = dg.ScheduleDefinition(name='bad_tide', cron_schedule='61 * * * *', job=j)\n"
        "defs = dg.Definitions(schedules=[bad])\n"
    )
    out = lookout(settings, "schedule", "list", "-f", str(location))
    assert out.returncode != 0
    assert "schedule 'bad_tide': invalid cron schedule '61 * * * *'" in out.stderr


def test_dev_start_all_starts_the_schedules_too(
    spawn: Spawn, settings: Settings, storage: Repositories, tmp_path: Path
) -> None:
    # --for 0: up, then straight down again; on the test's Redis, to read it after.
    args = ["lookout", "dev", *LOCATION, "--start-all", "--port", "0", "--for", "0"]
    dev = spawn([*args, "--redis-url", settings.redis_url], dev_env(tmp_path), cwd=tmp_path)
    assert dev.wait(60) == 0, dev.log_text()
    assert "every schedule RUNNING (every_minute, quay_schedule)" in dev.log_text()
    assert storage.sensors.state("quay_schedule").status == "RUNNING"
    (due,) = storage.schedule.due_times(["quay_schedule"])
    assert due is not None and due % 300 == 0
