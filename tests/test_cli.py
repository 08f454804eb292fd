"""The operator's CLI, run as a real process against a real redis-server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lookout import Settings
from lookout.testing import Repositories
from tests.conftest import ROOT, process_env

LOCATION = ["-m", "tests.locations.core_sensors"]


def lookout(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lookout", *args],
        env=process_env(settings, **env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sensor_list_shows_job_interval_status_and_last_tick(settings: Settings) -> None:
    assert lookout(settings, "sensor", "tick", "skipper", *LOCATION).returncode == 0
    out = lookout(settings, "sensor", "list", *LOCATION)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("skipper"))
    assert "work" in line and "30s" in line and "STOPPED" in line
    assert "SKIPPED" in line and "nothing new under the sun" in line


def test_start_and_stop_persist_the_operator_status(
    settings: Settings, storage: Repositories
) -> None:
    assert lookout(settings, "sensor", "start", "skipper", *LOCATION).returncode == 0
    assert storage.sensors.state("skipper").status == "RUNNING"
    assert storage.client.zscore(storage.keys.due, "skipper") is not None
    assert lookout(settings, "sensor", "stop", "skipper", *LOCATION).returncode == 0
    assert storage.sensors.state("skipper").status == "STOPPED"
    assert storage.client.zscore(storage.keys.due, "skipper") is None


def test_cursor_show_set_json_and_reset(settings: Settings) -> None:
    assert lookout(settings, "sensor", "cursor", "skipper", *LOCATION).stdout.strip() == "None"
    out = lookout(settings, "sensor", "cursor", "skipper", "--set", "abc", *LOCATION)
    assert out.stdout.strip() == "'abc'"
    out = lookout(
        settings, "sensor", "cursor", "skipper", "--set", '{"a": [1, 2]}', "--json", *LOCATION
    )
    assert out.stdout.strip() == "{'a': [1, 2]}"
    out = lookout(settings, "sensor", "cursor", "skipper", "--reset", *LOCATION)
    assert out.returncode == 0
    assert lookout(settings, "sensor", "cursor", "skipper", *LOCATION).stdout.strip() == "None"


def test_tick_commits_and_preview_only_says_what_it_would_launch(
    settings: Settings, storage: Repositories
) -> None:
    out = lookout(settings, "sensor", "preview", "partitioned", *LOCATION)
    assert out.returncode == 0 and "SUCCESS" in out.stdout
    # A preview launches nothing, and says so.
    assert "preview (nothing committed)" in out.stdout and "launched" not in out.stdout
    assert "run_key='p1': would launch" in out.stdout
    assert storage.launches.requests() == []
    out = lookout(settings, "sensor", "tick", "partitioned", *LOCATION)
    assert out.returncode == 0 and "run_key='p1': launched" in out.stdout
    assert len(storage.launches.requests()) == 1
    again = lookout(settings, "sensor", "preview", "partitioned", *LOCATION)
    assert "run_key='p1': would be dropped (run key used)" in again.stdout
    ticks = lookout(settings, "sensor", "ticks", "partitioned", "--limit", "5", *LOCATION)
    assert ticks.returncode == 0
    assert len(ticks.stdout.strip().splitlines()) == 2  # the header and the one tick


def test_unknown_sensor_is_a_one_line_error(settings: Settings) -> None:
    out = lookout(settings, "sensor", "tick", "nope", *LOCATION)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "error: no sensor named 'nope' (known: exiter, flaky, keyed_a, keyed_b, "
        "nested_cursor, partitioned, skipper, sleepy, stubborn, swallower)"
    ]


def test_unreachable_redis_names_the_url(settings: Settings) -> None:
    dead = Settings(redis_url="redis://127.0.0.1:1/0")
    out = lookout(dead, "sensor", "list", *LOCATION)
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1
    assert "cannot reach Redis at 127.0.0.1:1" in out.stderr


def test_load_error_names_file_and_line(settings: Settings) -> None:
    out = lookout(settings, "sensor", "list", "-m", "tests.locations.core_broken")
    assert out.returncode == 1
    assert "core_broken.py:5: ZeroDivisionError" in out.stderr
    assert "Traceback" not in out.stderr
    missing = lookout(settings, "sensor", "list", "-f", str(Path("no/such/file.py")))
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_code_location_is_read_from_the_environment(settings: Settings) -> None:
    out = lookout(settings, "sensor", "list", LOOKOUT_MODULE="tests.locations.core_sensors")
    assert out.returncode == 0 and "skipper" in out.stdout


def test_demo_runs_the_examples_on_an_embedded_redis(settings: Settings) -> None:
    env = process_env(settings)
    del env["LOOKOUT_REDIS_URL"]
    out = subprocess.run(
        [sys.executable, "-m", "lookout", "demo"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "redis: redis://127.0.0.1:" in out.stdout
    assert "new_file_sensor  SUCCESS" in out.stdout and "run request(s) on the launch" in out.stdout


def test_reset_run_keys_lets_a_used_key_launch_again(
    settings: Settings, storage: Repositories
) -> None:
    assert lookout(settings, "sensor", "tick", "partitioned", *LOCATION).returncode == 0
    assert lookout(settings, "sensor", "tick", "partitioned", *LOCATION).returncode == 0
    assert len(storage.launches.requests()) == 1  # the second tick's key was used
    out = lookout(settings, "sensor", "reset-run-keys", "partitioned", "--yes", *LOCATION)
    assert out.returncode == 0 and "forgot 1 run key(s)" in out.stdout
    assert lookout(settings, "sensor", "tick", "partitioned", *LOCATION).returncode == 0
    assert len(storage.launches.requests()) == 2
    refused = lookout(settings, "sensor", "reset-run-keys", "partitioned", *LOCATION)
    assert refused.returncode != 0  # no confirmation on standard input: nothing reset
    assert storage.sensors.run_keys_used("partitioned", ["p1"]) == [True]
