"""``make_email_on_run_failure_sensor`` mails a failed run through a real SMTP server.

The server is aiosmtpd's, started by the test on loopback; the sensor is
called as Dagster's docs test a run-failure sensor: a context built from a
failed in-process run.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler

import lookout as dg


class Inbox(MessageHandler):
    """Keeps every message the server receives."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []

    def handle_message(self, message: Message) -> None:
        self.messages.append(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


@dg.op
def spill() -> None:
    raise RuntimeError("milk everywhere")


@dg.job
def spill_job() -> None:
    spill()


def _failure_context(instance: dg.DagsterInstance) -> Any:
    result = spill_job.execute_in_process(instance=instance, raise_on_error=False)
    return dg.build_run_status_sensor_context(
        sensor_name="mail_failures",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()


def test_email_on_run_failure_sends_dagsters_message(smtp: tuple[int, Inbox]) -> None:
    port, inbox = smtp
    sensor = dg.make_email_on_run_failure_sensor(
        email_from="alerts@example.test",
        email_password=None,
        email_to=["cook@example.test", "owner@example.test"],
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_type="PLAIN",
        name="mail_failures",
        webserver_base_url="http://ui.example.test",
        monitored_jobs=[spill_job],
    )
    assert dg.Definitions(jobs=[spill_job], sensors=[sensor]).get_sensor_def("mail_failures")
    instance = dg.DagsterInstance.ephemeral()
    context = _failure_context(instance)
    sensor(context)
    (message,) = inbox.messages
    assert message["Subject"] == "Dagster Run Failed: spill_job"
    assert message["To"] == "cook@example.test,owner@example.test"
    assert message["X-RcptTo"] == "cook@example.test, owner@example.test"
    body = str(message.get_payload())
    assert "Job spill_job failed!" in body and "milk everywhere" in body
    assert f"/runs/{context.dagster_run.run_id}" in body


def test_email_sensor_refuses_an_unknown_smtp_type() -> None:
    with pytest.raises(dg.DefinitionError, match='smtp_type "POP"'):
        dg.make_email_on_run_failure_sensor(
            email_from="a@example.test", email_password="x", email_to=[], smtp_type="POP"
        )
