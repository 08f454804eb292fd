"""Options every command shares; each also reads a ``LOOKOUT_`` environment variable."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import click
import redis

from lookout._author.definitions import Definitions
from lookout._base.errors import LookoutError
from lookout._core.settings import Settings
from lookout._core.storage import Repositories
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


def settings_from(redis_url: str | None, prefix: str | None, **extra: Any) -> Settings:
    return Settings.from_env(redis_url=redis_url, key_prefix=prefix, **extra)


def open_location(
    module: str | None, file: str | None, settings: Settings
) -> tuple[Definitions, Repositories]:
    """Load the code location and open the repositories, checking that Redis answers."""
    definitions = load_definitions(module=module, file=file)
    repos = Repositories.from_settings(settings)
    repos.server.ping()
    return definitions, repos


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn lookout's own errors into a one-line message and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except LookoutError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except redis.RedisError as exc:
            click.echo(f"error: Redis: {exc}", err=True)
            sys.exit(1)

    return wrapper
