"""A Docker engine for the compose test, with no image registry.

Where apt-get runs as root, Debian's ``docker.io``, ``docker-compose`` and
``debootstrap`` are installed when missing and ``dockerd`` is started when no
daemon answers.  The images the project builds on (the Dockerfile's ``FROM``
and the compose file's ``redis`` image) are built locally when the engine
lacks them: one ``debootstrap --variant=minbase`` of Debian bookworm with
python3, python3-venv and redis-server, imported twice:

- as the Python base: a venv at ``/opt/venv`` first on ``PATH``, so that
  ``python`` and ``pip install`` work as in the official slim image (Debian's
  own interpreter refuses system-wide ``pip install``);
- as the Redis image: ``redis-server`` in ``/data`` with protected mode off
  by default, as the official image is built.

Both trust the host's extra CA certificates, so pip in the image build
reaches the package index the way the host does.  A tag that exists is used
as it is: these stand-ins are built once.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

Echo = Callable[[str], None]

PACKAGES = {"docker": "docker.io", "dockerd": "docker.io", "docker-compose": "docker-compose"}
SUITE = "bookworm"  # Debian 12: Python 3.11, as the Dockerfile's base
ROOTFS_PACKAGES = "python3,python3-venv,redis-server,ca-certificates"
VENV_PATH = "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LABEL = 'org.opencontainers.image.description="a local stand-in built by lookout\'s compose test"'

# The official Redis image is built with protected mode off, so that other
# containers may connect; Debian's package keeps it on when no config is given.
REDIS_ENTRYPOINT = """#!/bin/sh
if [ "$1" = redis-server ]; then
  shift
  exec redis-server --protected-mode no "$@"
fi
exec "$@"
"""


class Unavailable(Exception):
    """Docker cannot run on this machine; the message says why."""


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; a failure raises with the output's tail."""
    done = subprocess.run(
        list(argv),
        input=stdin,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise RuntimeError(f"{' '.join(argv)} exited with {done.returncode}:\n{tail}")
    return done


def _locked(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def machine_lock(echo: Echo, timeout: float = 1800) -> Iterator[None]:
    """One compose test at a time per machine: they share the engine, and the
    one that started dockerd stops it when it ends."""
    path = Path(tempfile.gettempdir()) / "lookout-compose-test.lock"
    deadline = time.monotonic() + timeout
    # Read only: any user may lock the file whoever created it.
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        if not _locked(fd):
            echo("waiting for another compose test on this machine to end")
        while not _locked(fd):
            if time.monotonic() > deadline:
                raise RuntimeError(f"another compose test held {path} for {timeout:.0f}s")
            time.sleep(5)
        yield
    finally:
        os.close(fd)  # and with it the lock


def can_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def install(packages: Sequence[str], echo: Echo) -> None:
    """``apt-get install`` Debian packages, or say why Docker cannot run here."""
    if not can_install():
        raise Unavailable(f"{', '.join(packages)} missing and apt-get cannot run as root")
    echo(f"installing {' '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], timeout=900, env=env)
    run(["apt-get", "install", "-y", "-qq", *packages], timeout=900, env=env)


def compose_command() -> list[str] | None:
    """``docker-compose``, else the ``docker compose`` plugin, else None."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        plugin = run(["docker", "compose", "version"], timeout=30, check=False)
        if plugin.returncode == 0:
            return ["docker", "compose"]
    return None


def ensure_tools(echo: Echo, *, allow_install: bool) -> list[str]:
    """The docker command (and dockerd, if no daemon answers); the compose command."""
    needed = ["docker"] if compose_command() else ["docker", "docker-compose"]
    if not daemon_answers():
        needed.append("dockerd")
    missing = sorted({PACKAGES[b] for b in needed if shutil.which(b, path=_sbin_path()) is None})
    if missing and not allow_install:
        raise Unavailable(f"{', '.join(missing)} not installed (make compose-test installs them)")
    if missing:
        install(missing, echo)
    command = compose_command()
    if command is None:
        raise Unavailable("no docker-compose command after installing it")
    return command


def _sbin_path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def daemon_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return run(["docker", "info"], timeout=30, check=False).returncode == 0


def start_daemon(log_dir: Path, echo: Echo) -> subprocess.Popen[bytes] | None:
    """Start dockerd if no daemon answers; the process to stop after, or None."""
    if daemon_answers():
        return None
    dockerd = shutil.which("dockerd", path=_sbin_path())
    if dockerd is None or os.geteuid() != 0:
        raise Unavailable("no Docker daemon answers, and starting dockerd needs root")
    log_path = log_dir / "dockerd.log"
    echo(f"starting dockerd (log: {log_path})")
    with log_path.open("wb") as log:
        daemon = subprocess.Popen(
            [dockerd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and daemon.poll() is None:
        if daemon_answers():
            return daemon
        time.sleep(1)
    stop_daemon(daemon)
    last = (log_path.read_text(errors="replace").strip().splitlines() or ["(no output)"])[-1]
    raise Unavailable(f"dockerd did not start within 60 s; its last words: {last}")


def stop_daemon(daemon: subprocess.Popen[bytes]) -> None:
    """Stop the dockerd this test started (its containers are gone by then)."""
    daemon.terminate()
    try:
        daemon.wait(timeout=30)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait(timeout=10)


def image_exists(tag: str) -> bool:
    return run(["docker", "image", "inspect", tag], timeout=30, check=False).returncode == 0


def host_mirror() -> str | None:
    """The Debian mirror the host's apt uses for bookworm, if it uses one."""
    sources = Path("/etc/apt/sources.list.d")
    texts = [p.read_text() for p in sorted(sources.glob("*.sources"))] if sources.is_dir() else []
    for text in texts:
        for stanza in text.split("\n\n"):
            fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line[:20])
            suites = fields.get("Suites", "").split()
            if SUITE in suites and "security" not in fields.get("URIs", ""):
                return fields["URIs"].split()[0]
    listing = Path("/etc/apt/sources.list")
    for line in listing.read_text().splitlines() if listing.exists() else []:
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE:
            return parts[1]
    return None


def build_rootfs(target: Path, echo: Echo) -> None:
    """Debian bookworm, minbase, with Python, a venv, redis-server and the host's CAs."""
    if shutil.which("debootstrap", path=_sbin_path()) is None:
        install(["debootstrap"], echo)
    mirror = host_mirror()
    echo(f"debootstrap {SUITE} into {target}")
    argv = ["debootstrap", "--variant=minbase", f"--include={ROOTFS_PACKAGES}", SUITE, str(target)]
    run(argv + ([mirror] if mirror else []), timeout=1200)
    local_cas = Path("/usr/local/share/ca-certificates")
    for cert in sorted(local_cas.glob("*.crt")) if local_cas.is_dir() else []:
        shutil.copy(cert, target / "usr/local/share/ca-certificates" / cert.name)
    run(["chroot", str(target), "update-ca-certificates"], timeout=120)
    run(["chroot", str(target), "python3", "-m", "venv", "/opt/venv"], timeout=300)
    entrypoint = target / "usr/local/bin/redis-entrypoint"
    entrypoint.write_text(REDIS_ENTRYPOINT)
    entrypoint.chmod(0o755)
    (target / "data").mkdir(exist_ok=True)
    shutil.rmtree(target / "var/lib/apt/lists", ignore_errors=True)
    for deb in (target / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


def import_image(rootfs: Path, tag: str, changes: Sequence[str]) -> None:
    argv = ["docker", "import"]
    for change in [*changes, f"LABEL {LABEL}"]:
        argv += ["--change", change]
    with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
        done = subprocess.run(
            [*argv, "-", tag], stdin=tar.stdout, capture_output=True, timeout=600, check=False
        )
    if done.returncode != 0 or tar.returncode != 0:
        raise RuntimeError(f"docker import {tag} failed: {done.stderr.decode(errors='replace')}")


def python_changes() -> list[str]:
    return [f"ENV PATH={VENV_PATH}", "ENV LANG=C.UTF-8", 'CMD ["python"]']


def redis_changes() -> list[str]:
    return [
        "WORKDIR /data",
        "EXPOSE 6379",
        'ENTRYPOINT ["/usr/local/bin/redis-entrypoint"]',
        'CMD ["redis-server"]',
    ]


def ensure_base_images(python_tag: str, redis_tag: str, echo: Echo) -> list[str]:
    """Build the missing base images without a registry; the tags it built."""
    wanted = {python_tag: python_changes(), redis_tag: redis_changes()}
    missing = {tag: changes for tag, changes in wanted.items() if not image_exists(tag)}
    if not missing:
        return []
    if os.geteuid() != 0:
        raise Unavailable(f"{', '.join(missing)} missing and debootstrap needs root")
    with tempfile.TemporaryDirectory(prefix="lookout-rootfs-", dir="/var/tmp") as scratch:
        rootfs = Path(scratch) / "rootfs"
        build_rootfs(rootfs, echo)
        for tag, changes in missing.items():
            echo(f"docker import {tag}")
            import_image(rootfs, tag, changes)
    return list(missing)
