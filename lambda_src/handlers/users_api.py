"""The users API behind API Gateway (REST, Lambda proxy integration).

Routes and their models are declared once here; Powertools turns them into the OpenAPI document
(`docs/openapi.json`) and validates requests against them.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from botocore.config import Config
from pydantic import BaseModel
from pydantic.json_schema import SkipJsonSchema

from adapters.aws.users_table import DynamoDBUserStore
from handlers import api_errors, init_done
from handlers.api_responses import NOT_FOUND, error, responses, retry_after
from handlers.json_body import json_fields_once
from handlers.observability import RETRIES, observability
from handlers.request_body import refuse_body
from handlers.settings import UsersApiSettings
from handlers.snapshot_hooks import share_nothing_across_restores
from users import contract
from users import cursor as cursor_codec
from users.logic import UsersService
from users.models import PAGE_DEFAULT, PAGE_MAX, NewUser, User, UserPage

# On every answer: users' names and emails are kept by no cache, and no browser reads a body as
# anything but the JSON it is declared (API Gateway's own answers carry the same, cdk_app/api.py).
RESPONSE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# The OAuth scopes API Gateway checks per route, declared here for the OpenAPI document.
READ_SCOPE, CREATE_SCOPE = contract.READ_SCOPE, contract.CREATE_SCOPE
SECURITY_SCHEME = "cognito"
settings = UsersApiSettings.from_environ()

logger, tracer, metrics = observability()
# Created once per container.
_dynamodb = boto3.client("dynamodb", config=RETRIES)
# Creates run in the stage's write region, whichever region serves the request. Another region's
# endpoint: short timeouts, so that an impaired write region is a prompt 503 with Retry-After,
# well inside the function's and API Gateway's timeouts.
_writer = _dynamodb if settings.write_region == settings.region else boto3.client(
    "dynamodb", region_name=settings.write_region,
    config=RETRIES.merge(Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 2})))
share_nothing_across_restores(_dynamodb, _writer)
CURSOR_KEY_SECRET = settings.cursor_key_secret
# Re-read at most this often, so that a rotated key reaches every warm environment in minutes.
CURSOR_KEY_MAX_AGE_SECONDS = 300


def cursor_keys() -> list[bytes]:
    """The stage's cursor keys from Secrets Manager, the signing one first: {"current": ...} and,
    after a rotation, {"previous": ...} (docs/operations.md, "Rotating the cursor key"). Read on
    the first list, not at init, so creates and reads never wait for it."""
    value = parameters.get_secret(CURSOR_KEY_SECRET, transform="json", max_age=CURSOR_KEY_MAX_AGE_SECONDS)
    return [value[name].encode() for name in ("current", "previous") if value.get(name)]


service = UsersService(
    store=DynamoDBUserStore(client=_writer, table_name=settings.table_name, region=settings.write_region, replica=_dynamodb),
    creates_per_caller_per_hour=settings.creates_per_caller_per_hour,
    cursor_keys=cursor_keys,
)
# Idempotency records belong with the create they guard: in the write region.
_idempotency_store = DynamoDBPersistenceLayer(table_name=settings.table_name, key_attr=contract.PARTITION_KEY,
                                              expiry_attr=contract.TTL_ATTRIBUTE, boto3_client=_writer)
_idempotency = IdempotencyConfig(
    event_key_jmespath="key",
    payload_validation_jmespath="body",
    expires_after_seconds=24 * 3600,
)

# Browsers may read Location and Retry-After only if they are exposed.
origins = settings.cors_origins
cors = CORSConfig(allow_origin=origins[0], extra_origins=list(origins[1:]), allow_headers=["Idempotency-Key"],
                  expose_headers=["Location", "Retry-After"], max_age=600) if origins else None


app = APIGatewayRestResolver(enable_validation=True, cors=cors, json_body_deserializer=json_fields_once)
api_errors.register(app, logger=logger, metrics=metrics)


def caller_of(event: dict[str, Any]) -> str:
    """Who called: the token's subject (a machine client's is its client id), as the authorizer
    passed it. Never a name or an email."""
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("claims") or {}
    return str(claims.get("sub") or claims.get("client_id") or "anonymous")


class CreateRequest(BaseModel):
    """What a create with an Idempotency-Key is keyed (`key`: caller and key) and checked by (`body`)."""

    key: str
    body: NewUser


@idempotent_function(data_keyword_argument="request", config=_idempotency, persistence_store=_idempotency_store,
                     output_serializer=PydanticSerializer(model=User))
def _create_once(request: CreateRequest) -> User:
    return _create(request.body, request_key=request.key)


def _create(new_user: NewUser, request_key: str | None = None) -> User:
    user = service.create(new_user, request_key=request_key, caller=caller_of(app.current_event.raw_event))
    metrics.add_metric(name="UsersCreated", unit=MetricUnit.Count, value=1)
    logger.info("user created", extra={"user_id": user.user_id})
    return user


@app.post(
    "/users",
    summary="Create a user",
    description="Creates a user and, once, its welcome email. One mailbox is one user, whatever its spelling (see the email field).",
    operation_id="createUser",
    tags=["users"],
    security=[{SECURITY_SCHEME: [CREATE_SCOPE]}],
    responses=responses(
        201, User, "Created, or the first answer again for a retried Idempotency-Key",
        {
            400: error("validation_error (API Gateway's request model, details[].issue says what; or the function, details[].field names the field), "
                        "invalid_json (function)"),
            404: NOT_FOUND,
            409: error("email_taken (function): the mailbox has a user; request_in_progress (function): a request with this "
                        "Idempotency-Key is still running, retry after Retry-After", headers=retry_after("Seconds to wait (request_in_progress)")),
            413: error("payload_too_large (function, over 8 KiB; API Gateway, over 10 MB)"),
            415: error("unsupported_media_type (function): send application/json"),
            422: error("idempotency_key_reused (function): this Idempotency-Key came with a different body"),
            429: error("throttled (API Gateway): over the stage's request rate; rate_limited (function): this caller used "
                        "its hourly create attempts (refused duplicates count too), retry after Retry-After", headers=retry_after("Seconds until the caller may create again")),
        },
        headers={"Location": {"description": "The new user's URL (GET it to read the user back), as a path under the API's base URL.",
                              "schema": {"type": "string", "format": "uri-reference"}}},
    ),
)
def create_user(
    body: Annotated[NewUser, Body(embed=False)],
    idempotency_key: Annotated[
        str | SkipJsonSchema[None],
        Header(alias="Idempotency-Key", min_length=1, max_length=255,
               description="Optional. Makes retries safe: the same key and body within 24 hours return the first answer."),
    ] = None,
) -> Response[User]:
    if idempotency_key:
        caller = caller_of(app.current_event.raw_event)
        user = _create_once(request=CreateRequest(key=f"{caller}:{idempotency_key}", body=body))
    else:
        user = _create(body)
    return Response(
        status_code=HTTPStatus.CREATED,
        content_type="application/json",
        body=user,
        headers={"Location": f"{_base_path(app.current_event.raw_event)}/users/{user.user_id}"},
    )


def _base_path(event: dict[str, Any]) -> str:
    """The path the client used before the route: the stage ("/dev") on the execute-api URL, a
    custom domain's base path mapping ("/v1"), or nothing. API Gateway's requestContext.path
    is the path as the client sent it; the event's path is the route's."""
    sent = (event.get("requestContext") or {}).get("path") or ""
    route = event.get("path") or ""
    return sent[: -len(route)] if route and sent.endswith(route) else ""


@app.get("/users/<user_id>", summary="Get a user", operation_id="getUser", tags=["users"],
         security=[{SECURITY_SCHEME: [READ_SCOPE]}],
         responses=responses(200, User, "The user", {
             400: error("validation_error (API Gateway): a required parameter is missing"),
             404: NOT_FOUND}))
def get_user(user_id: Annotated[str, Path(description="The user's id, a UUIDv4 (in either case); anything else is a 404.")]) -> User:
    user = service.get(user_id)
    # The audit trail: who read whom (the caller is on every line of the request).
    logger.info("user read", extra={"audit": "read", "user_id": user.user_id})
    return user


@app.get("/users", summary="List users, oldest first", operation_id="listUsers", tags=["users"],
         security=[{SECURITY_SCHEME: [READ_SCOPE]}],
         responses=responses(200, UserPage, "A page of users; next_cursor is there when another page follows", {
             400: error(f"validation_error (function): limit not a whole number from 1 to {PAGE_MAX}, a cursor too long, or either sent twice; "
                         "details[].field names it; invalid_cursor (function): a cursor this service did not issue"),
             404: NOT_FOUND}))
def list_users(
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX, description=f"Users per page, 1 to {PAGE_MAX}.")] = PAGE_DEFAULT,
    cursor: Annotated[str | SkipJsonSchema[None], Query(max_length=cursor_codec.MAX_LENGTH, description="The next_cursor of the previous page.")] = None,
) -> Response[str]:
    page = service.list(limit=limit, cursor_token=cursor)
    logger.info("users listed", extra={"audit": "list", "limit": limit, "cursor_given": cursor is not None,
                                       "returned": len(page.users)})
    # next_cursor is left out, not null, on the last page.
    return Response(status_code=HTTPStatus.OK, content_type="application/json", body=page.model_dump_json(exclude_none=True))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _idempotency.register_lambda_context(context)
    # Every line of this request says who called; the last one says what came of it.
    logger.append_keys(caller=caller_of(event))
    response = refuse_body(event, cors=cors) or app.resolve(event, context)
    response["headers"] = {**(response.get("headers") or {}), **RESPONSE_HEADERS}
    logger.info("request handled", extra={"http_method": event.get("httpMethod"), "route": event.get("resource"),
                                          "status": response.get("statusCode")})
    return response


init_done()
