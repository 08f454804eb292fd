"""Redis URLs as lookout prints them: never showing a password."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

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
