"""The push API against its own OpenAPI description, by schemathesis, on a real monitor.

Schemathesis reads the description the monitor serves and sends generated
bodies (valid and invalid ones) with the operator's token: no answer may be
a server error, and every answer must have a status, a content type and a
body the description documents for that call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from schemathesis import Case
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation, BaseSchema

from lookout import Settings
from lookout.testing import Repositories, load_definitions, sync_definitions
from tests.conftest import Spawn
from tests.test_status_page_auth import TOKEN, start_monitor

LOCATION = Path(__file__).resolve().parent / "locations" / "push_api.py"


@pytest.fixture
def push_schema(spawn: Spawn, settings: Settings, storage: Repositories) -> BaseSchema:
    sync_definitions(load_definitions(file=str(LOCATION)), storage.sensors)
    base = start_monitor(spawn, settings, TOKEN, LOCATION)
    return schemathesis.openapi.from_url(base + "/api/v1/openapi.json")


Operation = APIOperation[Any, Any, Any, Any]


def _operations(schema: BaseSchema) -> list[Operation]:
    """Every operation of the description; one it cannot read fails the test."""
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        found.append(result.ok())
    return found


def _check(operation: Operation) -> None:
    @given(case=operation.as_strategy())
    @hypothesis_settings(max_examples=40, deadline=None, database=None)
    def call(case: Case[Operation]) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
            # A body the schema accepts may still name a job or asset the code
            # location lacks, or carry a run config its job refuses: a documented
            # 422, which this heuristic check would count as a failure.
            excluded_checks=[schemathesis.checks.positive_data_acceptance],
        )

    call()


def test_every_answer_of_the_push_api_is_one_its_description_documents(
    push_schema: BaseSchema,
) -> None:
    operations = _operations(push_schema)
    assert {op.path for op in operations} == {
        "/api/v1/runs",
        "/api/v1/asset-events",
        "/api/v1/sensors/{name}/trigger",
    }
    for operation in operations:
        _check(operation)
