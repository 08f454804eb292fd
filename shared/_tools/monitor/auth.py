"""The operator's token: every state change from the web UI needs it.

Reading needs nothing.  A change carries the token (``Settings.admin_token``,
from ``LOOKOUT_ADMIN_TOKEN``) as the ``X-Lookout-Token`` header, an
``Authorization: Bearer`` header or the form field ``token``.  A missing or
wrong token is a 401 and changes nothing; with no token configured, changes
are refused (403) for everyone.  The token is compared in constant time.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    status: int
    title: str
    text: str
    headers: dict[str, str]


def supplied_token(headers: Mapping[str, str], form_token: str | None) -> str | None:
    """The token a request carries: a header first, else the form's field."""
    token = headers.get("x-lookout-token")
    if token:
        return token
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return form_token or None


def refusal(expected: str | None, supplied: str | None) -> Refusal | None:
    """``None`` when ``supplied`` is the operator's token, else why the change is refused."""
    if not expected:
        return Refusal(
            403,
            "Forbidden",
            "state changes are disabled: LOOKOUT_ADMIN_TOKEN is not set",
            {},
        )
    if not supplied or not hmac.compare_digest(supplied.encode(), expected.encode()):
        log.warning("operator: refused a state change without the right token")
        return Refusal(
            401,
            "Unauthorized",
            "a state change needs the operator token: type it in the token box at the top",
            {"WWW-Authenticate": 'Bearer realm="lookout"'},
        )
    return None
