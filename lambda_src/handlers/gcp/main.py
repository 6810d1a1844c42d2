"""The entry file of the GCP functions' source archive (scripts/gcp_package.py puts it at the
archive's root as main.py). The three functions share the archive, and each names its entry point
here; each imports only its own module, on its first request, so the users API never loads the
SMTP mailer and the processor never loads the API's routes and models."""

from __future__ import annotations

from typing import Any

import flask
import functions_framework


@functions_framework.http
def users_api(request: flask.Request) -> flask.Response:
    from handlers.gcp import users_api as api

    return api.handle(request)


@functions_framework.cloud_event
def welcome_relay(event: Any) -> None:
    from handlers.gcp import welcome_relay as relay

    relay.handle(event)


@functions_framework.cloud_event
def welcome_email(event: Any) -> None:
    from handlers.gcp import welcome_email as processor

    processor.handle(event)
