"""The push API's OpenAPI 3.1 description, served at ``/api/v1/openapi.json``.

The request bodies' schemas are generated from the pydantic models the
routes parse with (so the description cannot drift from what is accepted);
the paths, responses and the security scheme are written here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from lookout._tools.monitor.push import AssetEventBody, LaunchBody, TriggerBody

REF = "#/components/schemas/{model}"
BODIES: tuple[type[BaseModel], ...] = (LaunchBody, AssetEventBody, TriggerBody)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "The body is not JSON.",
        401: "The operator token is missing or wrong.",
        403: "State changes are disabled: no operator token is configured.",
        404: "No such sensor in this code location.",
        409: "The sensor is not known to Redis yet (no scheduler recorded it).",
        413: "The body, or the trigger payload, is too large.",
        422: "The body's fields are wrong, or name an unknown job or asset.",
        503: "Redis did not answer; whether the call took effect is unknown: repeat it.",
    }
    shown = (400, 401, 403, *statuses, 413, 422, 503)
    return {str(s): _json("Error", reasons[s]) for s in shown}


RESULTS: dict[str, Any] = {
    "LaunchResult": {
        "type": "object",
        "required": ["launched", "run_id", "request_id", "run_key", "job_name"],
        "properties": {
            "launched": {
                "type": "boolean",
                "description": "false: the run key was pushed before; run_id is that run.",
            },
            "run_id": {"type": "string"},
            "request_id": {"type": "string"},
            "run_key": {"type": ["string", "null"]},
            "job_name": {"type": "string"},
        },
    },
    "AssetEventResult": {
        "type": "object",
        "required": ["event_id", "asset_key", "kind"],
        "properties": {
            "event_id": {"type": "string", "description": "The event stream's entry id."},
            "asset_key": {"type": "string"},
            "kind": {"type": "string", "enum": ["ASSET_MATERIALIZATION", "ASSET_OBSERVATION"]},
        },
    },
    "TriggerResult": {
        "type": "object",
        "required": ["sensor", "outcome", "due_at", "tick_id"],
        "properties": {
            "sensor": {"type": "string"},
            "outcome": {
                "type": "string",
                "enum": ["due", "inflight"],
                "description": "due: ticks at due_at; inflight: one more tick follows tick_id.",
            },
            "due_at": {"type": ["number", "null"]},
            "tick_id": {"type": ["string", "null"]},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error", "status"],
        "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
    },
}


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in BODIES:
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[str(schema["title"])] = schema
    return {**schemas, **RESULTS}


def _post(summary: str, description: str, body: str, ok: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "description": description,
            "requestBody": {
                "required": body != "TriggerSensor",
                "content": {"application/json": {"schema": _ref(body)}},
            },
            "responses": ok,
        }
    }


def openapi_document() -> dict[str, Any]:
    """The whole description, as a JSON-ready dict."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "lookout push API",
            "version": "1",
            "description": (
                "Push instead of poll: launch runs, report external asset events and "
                "trigger sensor ticks. Every call needs the operator token "
                "(LOOKOUT_ADMIN_TOKEN). A refused call changes nothing."
            ),
        },
        "security": [{"token": []}, {"bearer": []}],
        "paths": {
            "/api/v1/runs": _post(
                "Launch a run of a job",
                "Deduplicated by run_key per source, like a sensor's RunRequest: a key "
                "launches one run, ever.",
                "LaunchRun",
                {
                    "202": _json("LaunchResult", "The run was put on the launch stream."),
                    "200": _json("LaunchResult", "The run key was pushed before: nothing new."),
                    **_errors(),
                },
            ),
            "/api/v1/asset-events": _post(
                "Report an asset materialization or observation",
                "Appended to the event stream: asset sensors see it once each.",
                "AssetEvent",
                {"201": _json("AssetEventResult", "The event was appended."), **_errors()},
            ),
            "/api/v1/sensors/{name}/trigger": {
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                **_post(
                    "Trigger a sensor tick now",
                    "Within the sensor's minimum interval. The payload is read by the tick "
                    "as context.trigger_payload (a lookout extension).",
                    "TriggerSensor",
                    {
                        "202": _json(
                            "TriggerResult", "The tick is due or follows the one in flight."
                        ),
                        **_errors(404, 409),
                    },
                ),
            },
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "X-Lookout-Token"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
