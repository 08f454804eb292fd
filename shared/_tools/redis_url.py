"""Redis URLs as the tools take them in and print them: checked early, never showing a password."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from redis.connection import ConnectionPool

from lookout._base.errors import LookoutError

HIDDEN = "***"


def masked_url(url: str) -> str:
    """``url`` with its password (in the address or as ``?password=``) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not even a URL (a bad port): show only its scheme
        return url.split("://", 1)[0] + "://" + HIDDEN
    netloc = parts.netloc
    if password is not None:
        user, _, host = netloc.rpartition("@")
        name = user.split(":", 1)[0]
        netloc = f"{name}:{HIDDEN}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, HIDDEN if k.lower() == "password" else v) for k, v in pairs], safe="*"
        )
    # By hand, not urlunsplit: that drops the empty host of ``unix:///path``.
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def checked_redis_url(url: str) -> str:
    """``url`` if redis-py can connect with it, else a one-line error naming it (masked)."""
    try:
        ConnectionPool.from_url(url)  # parses only: no connection opens
    except ValueError as exc:
        raise LookoutError(f"bad Redis URL {masked_url(url)!r}: {exc}") from None
    return url
