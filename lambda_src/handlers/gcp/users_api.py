"""The users API as a Cloud Run function behind the stage's load balancer: the routes of
handlers.users_app over Firestore. What API Gateway does on AWS before the function runs (the
route must exist, the token must be the issuer's and carry the route's scope) it does here first,
answering in the same error contract."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from http import HTTPStatus
from pathlib import Path
from typing import Any

import flask
from aws_lambda_powertools import Logger, Metrics
from google.cloud import firestore

from adapters.gcp.firestore_idempotency import FirestorePersistenceLayer
from adapters.gcp.firestore_users import FirestoreUserStore
from handlers import api_errors
from handlers.gcp.access_tokens import AccessTokens, Unauthorized, scopes_of
from handlers.gcp.routes import Routes, refuses_body
from handlers.proxy_event import proxy_event
from handlers.settings import GcpUsersApiSettings
from handlers.users_app import RESPONSE_HEADERS, build_users_api
from users import contract
from users.logic import UsersService
from users.models import ErrorDetail

# API Gateway's payload limit, kept so a client meets the same limits on either cloud.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
CURSOR_KEY_MAX_AGE_SECONDS = 300
REQUEST_ID_HEADER = "x-amzn-RequestId"  # API Gateway's name for it

settings = GcpUsersApiSettings.from_environ()
logger = Logger()
metrics = Metrics()
metrics.set_default_dimensions(stage=os.environ.get("STAGE", "unknown"))
_client = firestore.Client(project=settings.firestore.project, database=settings.firestore.database)
_keys: tuple[float, list[bytes]] = (0.0, [])


def cursor_keys() -> list[bytes]:
    """The cursor keys from the Secret Manager secret mounted as a file, the same JSON as on AWS
    ({"current": ..., "previous": ...}); read again every few minutes, so a rotation spreads."""
    global _keys
    read_at, keys = _keys
    if not keys or time.monotonic() - read_at > CURSOR_KEY_MAX_AGE_SECONDS:
        value = json.loads(Path(settings.cursor_key_file).read_text())
        keys = [value[name].encode() for name in ("current", "previous") if value.get(name)]
        _keys = (time.monotonic(), keys)
    return keys


service = UsersService(store=FirestoreUserStore(client=_client),
                       creates_per_caller_per_hour=settings.creates_per_caller_per_hour, cursor_keys=cursor_keys)
api = build_users_api(service=service, idempotency_store=FirestorePersistenceLayer(client=_client),
                      cors_origins=settings.cors_origins, logger=logger, metrics=metrics)
routes = Routes(api.app)
tokens = AccessTokens(settings.tokens)


class Deadline:
    """What Powertools' idempotency reads of a Lambda context: the time left, so that a create
    cut off by the function's timeout leaves an in-progress record that expires with it, not one
    that blocks its Idempotency-Key for a day."""

    def __init__(self, seconds: float) -> None:
        self._ends = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - time.monotonic()) * 1000))


def _event(request: flask.Request, *, resource: str, path_params: dict[str, str], claims: dict[str, Any] | None) -> dict[str, Any]:
    # The load balancer appends the client's address and its own to X-Forwarded-For.
    forwarded = request.headers.get("X-Forwarded-For", "")
    source_ip = forwarded.split(",")[0].strip() or request.remote_addr or ""
    trace = request.headers.get("X-Cloud-Trace-Context", "").split("/")[0]
    return proxy_event(method=request.method, path=request.path, resource_path=resource, headers=list(request.headers.items()),
                       query=list(request.args.items(multi=True)), path_params=path_params, body=request.get_data(),
                       source_ip=source_ip, request_id=trace or str(uuid.uuid4()),
                       claims={k: str(v) for k, v in claims.items()} if claims is not None else None,
                       stage=os.environ.get("STAGE", ""), api_id="gcp", account="")


def _front_door(request: flask.Request, event: dict[str, Any]) -> dict[str, Any] | None:
    """API Gateway's own answers: no such route, no valid token, not the route's scope, too large."""
    match = routes.match(request.method, request.path)
    if request.method == "OPTIONS" and routes.has_path(request.path) and api.cors is not None:
        return None  # the preflight: the resolver answers it, without a token, as API Gateway's MOCK does
    if match is None:
        return api_errors.proxy_error(event, api.cors, HTTPStatus.NOT_FOUND, "not_found", "No such route or method.")
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        return api_errors.proxy_error(event, api.cors, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload_too_large",
                                      f"The body must be at most {MAX_REQUEST_BYTES} bytes.")
    try:
        claims = tokens.claims(request.headers.get("Authorization"))
    except Unauthorized as exc:
        logger.info("token refused", extra={"reason": str(exc)})
        return api_errors.proxy_error(event, api.cors, HTTPStatus.UNAUTHORIZED, "unauthorized", "Unauthorized")
    if match.route.scopes and not (scopes_of(claims) & match.route.scopes):
        return api_errors.proxy_error(event, api.cors, HTTPStatus.FORBIDDEN, "forbidden",
                                      "The token does not carry the scope this route needs.")
    media_type = (request.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
    if refuses_body(match.route, media_type, request.get_data()):
        return api_errors.proxy_error(event, api.cors, HTTPStatus.BAD_REQUEST, "validation_error", "Invalid request body",
                                      details=[ErrorDetail(issue=contract.BODY_MODEL_ISSUE)])
    event.update(resource=match.route.resource, pathParameters=match.path_params or None)
    event["requestContext"].update(resourcePath=match.route.resource,
                                   authorizer={"claims": {k: str(v) for k, v in claims.items()}})
    return None


def handle(request: flask.Request) -> flask.Response:
    logger.clear_state()
    event = _event(request, resource=request.path, path_params={}, claims=None)
    logger.set_correlation_id(event["requestContext"]["requestId"])
    refused = _front_door(request, event)
    if refused is not None:
        refused["headers"] = {**refused["headers"], **RESPONSE_HEADERS}
        response = refused
    else:
        response = api.handle(event, Deadline(settings.timeout_seconds))
        metrics.flush_metrics()
    # The request id the error bodies carry, under the header name clients of the AWS stages
    # already read: one client works against either cloud.
    response["headers"][REQUEST_ID_HEADER] = event["requestContext"]["requestId"]
    return _flask_response(response)


def _flask_response(response: dict[str, Any]) -> flask.Response:
    body = response.get("body") or ""
    data = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    headers: list[tuple[str, str]] = [(k, str(v)) for k, v in (response.get("headers") or {}).items()]
    for name, values in (response.get("multiValueHeaders") or {}).items():
        if name not in (response.get("headers") or {}):
            headers.extend((name, str(v)) for v in values)
    return flask.Response(data, status=int(response["statusCode"]), headers=headers)
