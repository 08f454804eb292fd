"""lookout installs one top-level name, so users' own modules cannot clash with it.

A code location folder may hold a ``scheduler.py``, a ``workers.py`` and a
``shared/`` package of its own: lookout's processes import only ``lookout.*``
and run beside them unharmed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

from lookout import Settings
from tests.conftest import ROOT, Spawn, process_env, wait_for

USER_LOCATION = {
    "scheduler.py": "CRON = 'every minute, the user says'\n",
    "workers.py": "POOL = ['alice', 'bob']\n",
    "shared/__init__.py": "",
    "shared/naming.py": "JOB_NAME = 'copy_job'\n",
    "defs.py": textwrap.dedent(
        """
        import scheduler
        import workers
        from shared.naming import JOB_NAME

        import lookout as dg

        # The user's own modules of those names are the ones imported here.
        assert scheduler.CRON.startswith("every") and workers.POOL == ["alice", "bob"]


        @dg.op
        def copy_op() -> str:
            return "copied"


        @dg.job(name=JOB_NAME)
        def copy_job() -> None:
            copy_op()


        @dg.sensor(
            job=copy_job,
            minimum_interval_seconds=1,
            default_status=dg.DefaultSensorStatus.RUNNING,
        )
        def clash_sensor(context):
            return dg.RunRequest(run_key="only-once")


        defs = dg.Definitions(jobs=[copy_job], sensors=[clash_sensor])
        """
    ),
}


def write_location(folder: Path) -> Path:
    for name, text in USER_LOCATION.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder / "defs.py"


def test_a_built_wheel_installs_lookout_and_no_generic_top_level_name(tmp_path: Path) -> None:
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    subprocess.run(
        [*pip, "--target", str(target), str(ROOT)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    top = {p.name for p in target.iterdir() if not p.name.endswith(".dist-info")}
    assert top - {"bin"} == {"lookout"}
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = [sys.executable, "-c"]
    for name in ("shared", "scheduler", "workers"):
        out = subprocess.run(
            [*probe, f"import {name}"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode != 0 and "No module named" in out.stderr, (name, out.stderr)
    ok = subprocess.run(
        [*probe, "import lookout as dg, lookout.scheduler, lookout.workers; print(dg.sensor)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and "function sensor" in ok.stdout, ok.stderr
    assert (target / "lookout" / "py.typed").exists()


def test_lookout_dev_runs_a_location_that_has_its_own_scheduler_workers_and_shared(
    tmp_path: Path,
) -> None:
    defs = write_location(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookout", "dev", "-f", str(defs), "--for", "60"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        lines.append(line)
        if "copy_job SUCCESS" in line or time.monotonic() > deadline:
            break
    os.killpg(proc.pid, signal.SIGINT)
    rest, _ = proc.communicate(timeout=30)
    out = "".join(lines) + rest
    assert proc.returncode == 0, out
    assert "copy_job SUCCESS" in out and "Error" not in out, out


def test_lookout_worker_runs_a_location_that_has_its_own_scheduler_workers_and_shared(
    tmp_path: Path, spawn: Spawn, settings: Settings
) -> None:
    defs = write_location(tmp_path)
    env = process_env(settings)
    env["PYTHONPATH"] = ""  # only the installed package and the location's folder
    # Started in the location's folder, so its scheduler.py and workers.py come
    # first on sys.path, as they do for a user who runs lookout from there.
    worker = spawn(["lookout", "worker", "-f", str(defs), "-c", "1"], env, "worker", tmp_path)
    wait_for(lambda: " ready." in worker.log_text() or worker.poll() is not None, 30, what="ready")
    assert worker.poll() is None, worker.log_text()
    assert "Error" not in worker.log_text()


def _shipped_folders(package_dirs: dict[str, str]) -> set[str]:
    """Every folder under the package roots that holds a file, by its package name."""
    found = set()
    for package, folder in package_dirs.items():
        root = ROOT / folder
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                found.add(".".join((package, *path.parent.relative_to(root).parts)))
    return found


def test_every_folder_of_the_package_is_named_in_the_package_list() -> None:
    # A folder left out is not installed (a new subpackage: an ImportError on
    # a fresh machine) or, holding data, is shipped with setuptools' warning
    # on every install; a name with no folder is a package that is gone.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    shipped = _shipped_folders(config["package-dir"])
    assert not shipped - listed, f"folders not in pyproject's packages: {shipped - listed}"
    assert not listed - shipped, f"packages with no folder: {listed - shipped}"
