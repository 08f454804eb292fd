"""Options every command shares; each also reads a ``LOOKOUT_`` environment variable."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import click
import redis

from lookout._author.definitions import Definitions
from lookout._base.errors import LookoutError
from lookout._core.redis_url import masked_url
from lookout._core.settings import Settings
from lookout._core.storage import BRIEF, Patience, Repositories
from lookout._tools.dev_state import nearest_running_dev
from lookout._tools.location import load_definitions

P = ParamSpec("P")
R = TypeVar("R")


def location_options(fn: Callable[P, R]) -> Callable[P, R]:
    """``-m MODULE`` / ``-f FILE``: the code location to load."""
    fn = click.option(
        "-f",
        "--file",
        "file",
        envvar="LOOKOUT_FILE",
        type=click.Path(dir_okay=False),
        help="Python file defining a Definitions. [env LOOKOUT_FILE]",
    )(fn)
    return click.option(
        "-m",
        "--module",
        "module",
        envvar="LOOKOUT_MODULE",
        help="Module defining a Definitions. [env LOOKOUT_MODULE]",
    )(fn)


def redis_options(fn: Callable[P, R]) -> Callable[P, R]:
    """``--redis-url`` and ``--prefix``."""
    fn = click.option(
        "--prefix",
        envvar="LOOKOUT_KEY_PREFIX",
        default=None,
        help="Prefix of every Redis key. [env LOOKOUT_KEY_PREFIX]",
    )(fn)
    return click.option(
        "--redis-url",
        envvar="LOOKOUT_REDIS_URL",
        default=None,
        help="Redis URL. [env LOOKOUT_REDIS_URL]",
    )(fn)


def json_option(fn: Callable[P, R]) -> Callable[P, R]:
    """``--json``: a listing as one JSON document, for scripts."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")(fn)


def loglevel_option(fn: Callable[P, R]) -> Callable[P, R]:
    """``--loglevel``: the log level of a long-running process."""
    return click.option(
        "--loglevel",
        envvar="LOOKOUT_LOGLEVEL",
        default="INFO",
        show_default=True,
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
        help="Log level. [env LOOKOUT_LOGLEVEL]",
    )(fn)


def listen_options(name: str, host: str, port: int) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``--host`` and ``--port`` for a server, read from ``LOOKOUT_{NAME}_HOST``/``_PORT``."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        fn = click.option(
            "--port",
            envvar=f"LOOKOUT_{name}_PORT",
            default=port,
            show_default=True,
            type=click.IntRange(0, 65535),
            help=f"Port to listen on. [env LOOKOUT_{name}_PORT]",
        )(fn)
        return click.option(
            "--host",
            envvar=f"LOOKOUT_{name}_HOST",
            default=host,
            show_default=True,
            help=f"Address to listen on (0.0.0.0 in a container). [env LOOKOUT_{name}_HOST]",
        )(fn)

    return decorate


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """The one log format of lookout's long-running processes."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)


def settings_from(
    redis_url: str | None, prefix: str | None, *, dev_fallback: bool = True, **extra: Any
) -> Settings:
    """The settings of a command: its options, else ``LOOKOUT_*``, else a running ``lookout dev``.

    With neither ``--redis-url`` nor ``LOOKOUT_REDIS_URL``, the Redis of the
    ``lookout dev`` running in the working directory (or the nearest folder
    above it) is used, and said so on stderr; else the default.
    """
    if redis_url is None and not os.environ.get("LOOKOUT_REDIS_URL") and dev_fallback:
        dev = nearest_running_dev(Path.cwd())
        if dev is not None:
            redis_url = dev.redis_url
            prefix = prefix if prefix is not None else dev.key_prefix
            click.echo(
                f"using the Redis of lookout dev (pid {dev.pid}): {masked_url(dev.redis_url)}",
                err=True,
            )
    settings = Settings.from_env(redis_url=redis_url, key_prefix=prefix, **extra)
    return settings


def open_storage(settings: Settings, patience: Patience | None = BRIEF) -> Repositories:
    """The repositories on ``settings``' Redis, checked to answer (by default within a second)."""
    repos = Repositories.from_settings(settings, patience)
    repos.server.ping()
    return repos


def open_location(
    module: str | None, file: str | None, settings: Settings, patience: Patience | None = BRIEF
) -> tuple[Definitions, Repositories]:
    """Load the code location and open the repositories, checking that Redis answers."""
    definitions = load_definitions(module=module, file=file)
    return definitions, open_storage(settings, patience)


def fail(message: str) -> NoReturn:
    """The one error style of every command: ``error: ...`` on stderr, exit status 1."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn lookout's own errors into a one-line message and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except LookoutError as exc:
            fail(str(exc))
        except redis.RedisError as exc:
            fail(f"Redis: {exc}")

    return wrapper
