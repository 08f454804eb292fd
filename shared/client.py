"""A Python client of the monitor's push API: launch runs, report asset events, trigger sensors.

Push instead of poll: a system that knows when something happened tells
lookout at once rather than waiting for a sensor to look.  Each call is one
HTTP request (the standard library's ``urllib``) to a ``lookout monitor`` or
``lookout dev``, carrying the operator's token::

    from lookout.client import PushClient

    client = PushClient("http://127.0.0.1:3000", token="...")
    client.launch_run("nightly_job", run_key="2026-11-29", tags={"team": "data"})
    client.report_asset_event("raw/orders", metadata={"rows": 1200})
    client.trigger_sensor("new_files", payload={"path": "incoming/a.csv"})

A refused call raises ``PushApiError`` with the HTTP status and the server's
message; nothing was changed.  The description of the API is served at
``/api/v1/openapi.json``.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lookout._base.errors import LookoutError

__all__ = ["AssetEventResult", "LaunchResult", "PushApiError", "PushClient", "TriggerResult"]


class PushApiError(LookoutError):
    """The push API refused a call (``status`` is the HTTP status); nothing was changed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class LaunchResult:
    """``launched`` is False when the run key was pushed before: ``run_id`` is that run."""

    launched: bool
    run_id: str
    request_id: str
    run_key: str | None
    job_name: str


@dataclass(frozen=True)
class AssetEventResult:
    event_id: str  # the event stream's entry id
    asset_key: str
    kind: str  # ASSET_MATERIALIZATION or ASSET_OBSERVATION


@dataclass(frozen=True)
class TriggerResult:
    """``outcome`` "due": the tick is due at ``due_at``; "inflight": one follows ``tick_id``."""

    sensor: str
    outcome: str
    due_at: float | None
    tick_id: str | None


class PushClient:
    """Calls to one monitor's push API; ``token`` defaults to ``LOOKOUT_ADMIN_TOKEN``."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("LOOKOUT_ADMIN_TOKEN")
        self.timeout = timeout

    def launch_run(
        self,
        job_name: str,
        *,
        run_config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        run_key: str | None = None,
        partition_key: str | None = None,
        source: str | None = None,
    ) -> LaunchResult:
        """Launch a run of ``job_name``; with ``run_key``, at most one run per key, ever."""
        body: dict[str, Any] = {"job_name": job_name}
        if run_config:
            body["run_config"] = dict(run_config)
        if tags:
            body["tags"] = dict(tags)
        if run_key is not None:
            body["run_key"] = run_key
        if partition_key is not None:
            body["partition_key"] = partition_key
        if source is not None:
            body["source"] = source
        return LaunchResult(**self._post("/api/v1/runs", body))

    def report_asset_event(
        self,
        asset_key: str | Sequence[str],
        *,
        kind: Literal["materialization", "observation"] = "materialization",
        partition: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> AssetEventResult:
        """Report that an external asset was materialized (or observed)."""
        body: dict[str, Any] = {
            "asset_key": asset_key if isinstance(asset_key, str) else list(asset_key),
            "kind": kind,
        }
        if partition is not None:
            body["partition"] = partition
        if metadata:
            body["metadata"] = dict(metadata)
        if description is not None:
            body["description"] = description
        if tags:
            body["tags"] = dict(tags)
        return AssetEventResult(**self._post("/api/v1/asset-events", body))

    def trigger_sensor(self, name: str, *, payload: Any = None) -> TriggerResult:
        """Ask for a tick of sensor ``name`` now; its ``context.trigger_payload`` is ``payload``."""
        path = f"/api/v1/sensors/{urllib.parse.quote(name, safe='')}/trigger"
        return TriggerResult(**self._post(path, {"payload": payload}))

    def _post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                answer: dict[str, Any] = json.loads(reply.read())
                return answer
        except urllib.error.HTTPError as exc:
            raise PushApiError(exc.code, _message(exc)) from None


def _message(exc: urllib.error.HTTPError) -> str:
    text = exc.read().decode(errors="replace")
    try:
        return str(json.loads(text)["error"])
    except (ValueError, KeyError, TypeError):
        return text.strip() or str(exc.reason)
