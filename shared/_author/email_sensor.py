"""``make_email_on_run_failure_sensor``: mail a message through SMTP when a run fails.

The message, subject and body are Dagster's.  ``smtp_type`` is ``"SSL"``
(port 465) or ``"STARTTLS"`` (587), as in Dagster, or ``"PLAIN"`` for a relay
on a trusted network (no TLS; login only with a password).
"""

from __future__ import annotations

import datetime
import smtplib
import ssl
from collections.abc import Callable, Sequence
from typing import Any

from lookout._author.event_sensors import run_failure_sensor
from lookout._author.run_status_context import RunFailureSensorContext
from lookout._author.sensors import SensorDefinition
from lookout._base.errors import DefinitionError
from lookout._base.wire import DefaultSensorStatus

EMAIL_MESSAGE = """From: {email_from}
To: {email_to}
MIME-Version: 1.0
Content-type: text/html
Subject: {email_subject}

{email_body}

<!-- this ensures Gmail doesn't trim the email -->
<span style="opacity: 0"> {randomness} </span>
"""
DEFAULT_PORTS = {"SSL": 465, "STARTTLS": 587, "PLAIN": 25}


def default_failure_email_body(context: RunFailureSensorContext) -> str:
    return "<br>".join(
        [
            f"Job {context.dagster_run.job_name} failed!",
            f"Run ID: {context.dagster_run.run_id}",
            "Mode: default",
            f"Error: {context.failure_event.message}",
        ]
    )


def default_failure_email_subject(context: RunFailureSensorContext) -> str:
    return f"Dagster Run Failed: {context.dagster_run.job_name}"


def send_email(
    smtp_type: str,
    host: str,
    port: int,
    user: str,
    password: str | None,
    email_from: str,
    email_to: Sequence[str],
    message: str,
) -> None:
    """Send ``message`` through the SMTP server at ``host:port`` (see module doc)."""
    context = ssl.create_default_context()
    server = (
        smtplib.SMTP_SSL(host, port, context=context)
        if smtp_type == "SSL"
        else smtplib.SMTP(host, port)
    )
    with server:
        if smtp_type == "STARTTLS":
            server.starttls(context=context)
        if smtp_type != "PLAIN" or password:
            server.login(user, password or "")
        server.sendmail(email_from, list(email_to), message)


def make_email_on_run_failure_sensor(
    email_from: str,
    email_password: str | None,
    email_to: Sequence[str],
    email_body_fn: Callable[[RunFailureSensorContext], str] = default_failure_email_body,
    email_subject_fn: Callable[[RunFailureSensorContext], str] = default_failure_email_subject,
    smtp_host: str = "smtp.gmail.com",
    smtp_type: str = "SSL",
    smtp_port: int | None = None,
    smtp_user: str | None = None,
    name: str | None = None,
    webserver_base_url: str | None = None,
    monitored_jobs: Sequence[Any] | None = None,
    job_selection: Sequence[Any] | None = None,
    monitor_all_code_locations: bool = False,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    monitor_all_repositories: bool = False,
) -> SensorDefinition[[RunFailureSensorContext], None]:
    """A run-failure sensor that mails each failure to ``email_to``."""
    if smtp_type not in DEFAULT_PORTS:
        raise DefinitionError(
            f'smtp_type "{smtp_type}" is not supported (use {", ".join(DEFAULT_PORTS)})'
        )
    port = smtp_port or DEFAULT_PORTS[smtp_type]

    def email_on_run_failure(context: RunFailureSensorContext) -> None:
        body = email_body_fn(context)
        if webserver_base_url:
            body += (
                f'<p><a href="{webserver_base_url}/runs/{context.dagster_run.run_id}">View in'
                " the Dagster UI</a></p>"
            )
        message = EMAIL_MESSAGE.format(
            email_to=",".join(email_to),
            email_from=email_from,
            email_subject=email_subject_fn(context),
            email_body=body,
            randomness=datetime.datetime.now(),
        )
        send_email(
            smtp_type,
            smtp_host,
            port,
            smtp_user or email_from,
            email_password,
            email_from,
            email_to,
            message,
        )

    return run_failure_sensor(
        name=name or "email_on_run_failure",
        monitored_jobs=monitored_jobs or job_selection,
        monitor_all_code_locations=monitor_all_code_locations or monitor_all_repositories,
        default_status=default_status,
    )(email_on_run_failure)
