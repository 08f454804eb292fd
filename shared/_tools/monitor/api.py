"""The push API's routes: JSON over HTTP under ``/api/v1``, described at ``/api/v1/openapi.json``.

Every call changes state, so every call needs the operator's token (the
``X-Lookout-Token`` or ``Authorization: Bearer`` header).  A refusal is a 4xx
with a JSON body ``{"error": ..., "status": ...}`` and changes nothing: the
token is checked first, then the body's size, its JSON, its fields, and what
it names; only then is anything written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lookout._core.settings import Settings
from lookout._tools.monitor.auth import refusal, supplied_token
from lookout._tools.monitor.openapi import openapi_document
from lookout._tools.monitor.push import (
    AssetEventBody,
    LaunchBody,
    PushCalls,
    PushError,
    TriggerBody,
)

log = logging.getLogger(__name__)

# A body says what to launch or what happened: a run config may be long, not huge.
MAX_BODY_BYTES = 256 * 1024


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status, headers=headers)


async def _body(request: Request) -> bytes:
    """The request's body, refused (413) past ``MAX_BODY_BYTES`` whatever its length header says."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PushError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PushError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    return bytes(body)


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], raw: bytes, empty_ok: bool = False) -> M:
    """The body as ``model``: 400 when it is not JSON, 422 when its fields are wrong."""
    if not raw.strip() and empty_ok:
        return model()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PushError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PushError(422, f"the body must be a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise PushError(422, f"invalid {model.model_config.get('title')}: {problems}") from None


Handler = Callable[[Request, bytes], Awaitable[Response]]


class PushApi:
    """The ``/api/v1`` routes over one ``PushCalls``."""

    def __init__(self, calls: PushCalls, settings: Settings) -> None:
        self.calls = calls
        self.settings = settings
        self.routes = [
            Route("/api/v1/openapi.json", self.openapi),
            Route("/api/v1/runs", self._guarded(self.launch), methods=["POST"]),
            Route("/api/v1/asset-events", self._guarded(self.report), methods=["POST"]),
            Route("/api/v1/sensors/{name}/trigger", self._guarded(self.trigger), methods=["POST"]),
        ]

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document())

    def _guarded(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` behind the token and the body's size; a ``PushError`` becomes its 4xx."""

        async def guarded(request: Request) -> Response:
            refused = refusal(self.settings.admin_token, supplied_token(request.headers, None))
            if refused is not None:
                return error(refused.status, refused.text, refused.headers)
            try:
                return await handler(request, await _body(request))
            except PushError as exc:
                log.info("push API: %s %s refused: %s", request.method, request.url.path, exc)
                return error(exc.status, str(exc))
            except redis.RedisError as exc:
                log.warning("push API: %s %s: Redis: %s", request.method, request.url.path, exc)
                return error(503, f"Redis did not answer: {exc}")

        return guarded

    async def launch(self, request: Request, raw: bytes) -> Response:
        body = _parse(LaunchBody, raw)
        result = await run_in_threadpool(self.calls.launch, body)
        log.info("push API: run %s of job %r (launched: %s)", *_launch_fields(result))
        return JSONResponse(result, 202 if result["launched"] else 200)

    async def report(self, request: Request, raw: bytes) -> Response:
        body = _parse(AssetEventBody, raw)
        return JSONResponse(await run_in_threadpool(self.calls.report, body), 201)

    async def trigger(self, request: Request, raw: bytes) -> Response:
        body = _parse(TriggerBody, raw, empty_ok=True)
        name = request.path_params["name"]
        return JSONResponse(await run_in_threadpool(self.calls.trigger, name, body), 202)


def _launch_fields(result: dict[str, Any]) -> tuple[Any, Any, Any]:
    return result["run_id"], result["job_name"], result["launched"]
