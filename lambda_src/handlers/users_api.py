"""The users API behind API Gateway (REST, Lambda proxy integration).

Routes and their models are declared once here; Powertools turns them into the OpenAPI document
(`docs/openapi.json`) and validates requests against them.
"""

from __future__ import annotations

import base64

import os
from http import HTTPStatus
from typing import Annotated, Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel
from pydantic.json_schema import SkipJsonSchema
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from botocore.config import Config

from handlers import init_done
from handlers.json_body import json_fields_once
from handlers.observability import RETRIES, observability
from handlers.snapshot_hooks import share_nothing_across_restores
from adapters.aws.users_table import DynamoDBUserStore
from users import contract
from users import cursor as cursor_codec
from users.errors import CreateLimitReached, DomainError, TemporarilyUnavailable
from users.logic import UsersService
from users.models import PAGE_DEFAULT, PAGE_MAX, ErrorBody, ErrorDetail, ErrorResponse, NewUser, User, UserPage

MAX_BODY_BYTES = 8 * 1024
# On every answer: users' names and emails are kept by no cache, and no browser reads a body as
# anything but the JSON it is declared (API Gateway's own answers carry the same, cdk_app/api.py).
RESPONSE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# The OAuth scopes API Gateway checks per route, declared here for the OpenAPI document.
READ_SCOPE, CREATE_SCOPE = contract.READ_SCOPE, contract.CREATE_SCOPE
SECURITY_SCHEME = "cognito"
TABLE_NAME = os.environ[contract.ENV_TABLE_NAME]
REGION = os.environ["AWS_REGION"]
# Creates run in the stage's write region, whichever region serves the request (adapters.aws.users_table).
WRITE_REGION = os.environ.get(contract.ENV_WRITE_REGION) or REGION
CORS_ORIGINS = [o for o in os.environ.get(contract.ENV_CORS_ORIGINS, "").split(",") if o]

logger, tracer, metrics = observability()
# Created once per container.
_dynamodb = boto3.client("dynamodb", config=RETRIES)
# Another region's endpoint: short timeouts, so that an impaired write region is a prompt 503
# with Retry-After, well inside the function's and API Gateway's timeouts.
_writer = _dynamodb if WRITE_REGION == REGION else boto3.client(
    "dynamodb", region_name=WRITE_REGION,
    config=RETRIES.merge(Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 2})))
share_nothing_across_restores(_dynamodb, _writer)
CURSOR_KEY_SECRET = os.environ[contract.ENV_CURSOR_KEY_SECRET]
# Re-read at most this often, so that a rotated key reaches every warm environment in minutes.
CURSOR_KEY_MAX_AGE_SECONDS = 300


def cursor_keys() -> list[bytes]:
    """The stage's cursor keys from Secrets Manager, the signing one first: {"current": ...} and,
    after a rotation, {"previous": ...} (docs/operations.md, "Rotating the cursor key"). Read on
    the first list, not at init, so creates and reads never wait for it."""
    value = parameters.get_secret(CURSOR_KEY_SECRET, transform="json", max_age=CURSOR_KEY_MAX_AGE_SECONDS)
    return [value[name].encode() for name in ("current", "previous") if value.get(name)]


_creates_per_hour = os.environ.get(contract.ENV_CREATES_PER_CALLER_PER_HOUR)
service = UsersService(
    store=DynamoDBUserStore(client=_writer, table_name=TABLE_NAME, region=WRITE_REGION, replica=_dynamodb),
    creates_per_caller_per_hour=int(_creates_per_hour) if _creates_per_hour else None,
    cursor_keys=cursor_keys,
)
# Idempotency records belong with the create they guard: in the write region.
_idempotency_store = DynamoDBPersistenceLayer(table_name=TABLE_NAME, key_attr=contract.PARTITION_KEY,
                                              expiry_attr=contract.TTL_ATTRIBUTE, boto3_client=_writer)
_idempotency = IdempotencyConfig(
    event_key_jmespath="key",
    payload_validation_jmespath="body",
    expires_after_seconds=24 * 3600,
)

# Browsers may read Location and Retry-After only if they are exposed.
cors = CORSConfig(allow_origin=CORS_ORIGINS[0], extra_origins=CORS_ORIGINS[1:], allow_headers=["Idempotency-Key"],
                  expose_headers=["Location", "Retry-After"], max_age=600) if CORS_ORIGINS else None


app = APIGatewayRestResolver(enable_validation=True, cors=cors, json_body_deserializer=json_fields_once)


def caller_of(event: dict[str, Any]) -> str:
    """Who called: the token's subject (a machine client's is its client id), as the authorizer
    passed it. Never a name or an email."""
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("claims") or {}
    return str(claims.get("sub") or claims.get("client_id") or "anonymous")


def _request_id() -> str:
    try:
        return app.current_event.request_context.request_id or "unknown"
    except Exception:  # an event without a request context
        return "unknown"


def error_response(status: HTTPStatus, code: str, message: str, details: list[ErrorDetail] | None = None, headers: dict[str, str] | None = None) -> Response:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details or []), request_id=_request_id())
    return Response(status_code=status, content_type="application/json", body=body.model_dump_json(exclude_none=True), headers=headers)


def refuse_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a POST body this API does not take, before Powertools parses it (it would
    parse form encodings too, and any size): JSON only, up to MAX_BODY_BYTES. Media types match
    without case and with parameters (RFC 9110); the header is handed on in lower case, which is
    how Powertools recognises JSON."""
    if event.get("httpMethod") != "POST":
        return None
    headers = event.get("headers") or {}
    name = next((k for k in headers if k.lower() == "content-type"), None)
    media, _, parameters = (headers.get(name) or "").partition(";") if name else ("", "", "")
    if media.strip().lower() != "application/json":
        return _proxy_error(event, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Send the body as application/json.")
    charsets = [value.strip().strip('"').lower() for key, _, value in (p.partition("=") for p in parameters.split(";"))
                if key.strip().lower() == "charset"]
    if any(charset not in ("utf-8", "utf8") for charset in charsets):
        return _proxy_error(event, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                            "Send the body as application/json in UTF-8 (charset=utf-8, or no charset).")
    if event.get("isBase64Encoded"):  # API Gateway base64-encodes a body that is not UTF-8 text
        try:
            base64.b64decode(event.get("body") or "").decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return _proxy_error(event, HTTPStatus.BAD_REQUEST, "invalid_json", "The body is not UTF-8 text; send JSON in UTF-8.")
    if len((event.get("body") or "").encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        return _proxy_error(event, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload_too_large", f"The body must be at most {MAX_BODY_BYTES} bytes.")
    normalised = "application/json" + (f";{parameters}" if parameters else "")
    headers[name] = normalised
    if name in (event.get("multiValueHeaders") or {}):
        event["multiValueHeaders"][name] = [normalised]
    return None


def _proxy_error(event: dict[str, Any], status: HTTPStatus, code: str, message: str) -> dict[str, Any]:
    """An error in the contract, as a Lambda proxy response, with the CORS headers Powertools adds."""
    request_id = (event.get("requestContext") or {}).get("requestId") or "unknown"
    body = ErrorResponse(error=ErrorBody(code=code, message=message), request_id=request_id)
    origin = next((v for k, v in (event.get("headers") or {}).items() if k.lower() == "origin"), None)
    return {"statusCode": int(status), "headers": {"Content-Type": "application/json", **(cors.to_dict(origin) if cors else {})},
            "body": body.model_dump_json(), "isBase64Encoded": False}


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


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"model": ErrorResponse}}}
    if headers:
        answer["headers"] = headers
    return answer


def _retry_after(description: str) -> dict[str, Any]:
    return {"Retry-After": {"description": description, "schema": {"type": "integer", "minimum": 1}}}


# What each status carries, route by route, and which layer answers it: API Gateway (its
# authorizer, request validator, throttling, integration) or the function. All in the error
# contract (ErrorResponse); `code` is what a client switches on.
_ANY_ROUTE_ERRORS: dict[int, dict[str, Any]] = {
    401: _error("unauthorized (API Gateway): the token is missing, expired, malformed or not an access token of the stage's user pool"),
    403: _error("forbidden (API Gateway): the token is valid but lacks the route's scope"),
    429: _error("throttled (API Gateway): over the stage's request rate; back off and retry",
                headers=_retry_after("Seconds to wait, when the function answered (rate_limited)")),
    500: _error("internal_error (function): quote the request_id if you report it"),
    502: _error("internal_error (API Gateway): the function failed before it answered"),
    503: _error("temporarily_unavailable (function): the data store is busy or the write region is out of reach; retry after Retry-After",
                headers=_retry_after("Seconds to wait before retrying")),
    504: _error("internal_error (API Gateway): the function did not answer in time"),
}


def _responses(success: int, model: Any, description: str, route_errors: dict[int, Any], headers: dict[str, Any] | None = None) -> dict[int, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"model": model}}}
    if headers:
        answer["headers"] = headers
    return {success: answer, **_ANY_ROUTE_ERRORS, **route_errors}


_NOT_FOUND = _error("not_found (API Gateway): no such route or method; not_found (function): no user has that id")


@app.post(
    "/users",
    summary="Create a user",
    description="Creates a user and, once, its welcome email. One mailbox is one user, whatever its spelling (see the email field).",
    operation_id="createUser",
    tags=["users"],
    security=[{SECURITY_SCHEME: [CREATE_SCOPE]}],
    responses=_responses(
        201, User, "Created, or the first answer again for a retried Idempotency-Key",
        {
            400: _error("validation_error (API Gateway's request model, details[].issue says what; or the function, details[].field names the field), "
                        "invalid_json (function)"),
            404: _NOT_FOUND,
            409: _error("email_taken (function): the mailbox has a user; request_in_progress (function): a request with this "
                        "Idempotency-Key is still running, retry after Retry-After", headers=_retry_after("Seconds to wait (request_in_progress)")),
            413: _error("payload_too_large (function, over 8 KiB; API Gateway, over 10 MB)"),
            415: _error("unsupported_media_type (function): send application/json"),
            422: _error("idempotency_key_reused (function): this Idempotency-Key came with a different body"),
            429: _error("throttled (API Gateway): over the stage's request rate; rate_limited (function): this caller used "
                        "its hourly create attempts (refused duplicates count too), retry after Retry-After", headers=_retry_after("Seconds until the caller may create again")),
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
         responses=_responses(200, User, "The user", {
             400: _error("validation_error (API Gateway): a required parameter is missing"),
             404: _NOT_FOUND}))
def get_user(user_id: Annotated[str, Path(description="The user's id, a UUIDv4 (in either case); anything else is a 404.")]) -> User:
    user = service.get(user_id)
    # The audit trail: who read whom (the caller is on every line of the request).
    logger.info("user read", extra={"audit": "read", "user_id": user.user_id})
    return user


@app.get("/users", summary="List users, oldest first", operation_id="listUsers", tags=["users"],
         security=[{SECURITY_SCHEME: [READ_SCOPE]}],
         responses=_responses(200, UserPage, "A page of users; next_cursor is there when another page follows", {
             400: _error(f"validation_error (function): limit not a whole number from 1 to {PAGE_MAX}, a cursor too long, or either sent twice; "
                         "details[].field names it; invalid_cursor (function): a cursor this service did not issue"),
             404: _NOT_FOUND}))
def list_users(
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX, description=f"Users per page, 1 to {PAGE_MAX}.")] = PAGE_DEFAULT,
    cursor: Annotated[str | SkipJsonSchema[None], Query(max_length=cursor_codec.MAX_LENGTH, description="The next_cursor of the previous page.")] = None,
) -> Response[str]:
    page = service.list(limit=limit, cursor_token=cursor)
    logger.info("users listed", extra={"audit": "list", "limit": limit, "cursor_given": cursor is not None,
                                       "returned": len(page.users)})
    # next_cursor is left out, not null, on the last page.
    return Response(status_code=HTTPStatus.OK, content_type="application/json", body=page.model_dump_json(exclude_none=True))


@app.exception_handler(RecursionError)
def _too_deep(_: RecursionError) -> Response:
    return error_response(HTTPStatus.BAD_REQUEST, "invalid_json", "The body is nested too deeply to be a user.")


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response:
    details: dict[str, ErrorDetail] = {}
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return error_response(HTTPStatus.BAD_REQUEST, "invalid_json", "The body is not valid JSON.")
        field = _field(tuple(err.get("loc", ())))
        details.setdefault(field, ErrorDetail(field=field or None, issue=_issue(err)))  # one per field
    return error_response(HTTPStatus.BAD_REQUEST, "validation_error", "The request is not valid; see details.", list(details.values()))


def _field(loc: tuple[Any, ...]) -> str:
    """The field as the contract names it: a body's field by its path, a parameter by its name (a
    header as it is spelled, Idempotency-Key), never pydantic's own steps (a union's member)."""
    if loc[:1] == ("body",):
        return ".".join(str(p) for p in loc[1:])
    if loc[:1] == ("header",) and len(loc) > 1:
        return "-".join(word.capitalize() for word in str(loc[1]).split("-"))
    return str(loc[1]) if len(loc) > 1 else ".".join(str(p) for p in loc)


def _issue(err: dict[str, Any]) -> str:
    kind, ctx, loc = err.get("type", ""), err.get("ctx") or {}, err.get("loc", ())
    # A header or query parameter sent more than once reaches validation as the list of its values.
    if kind == "repeated" or (loc[:1] in (("header",), ("query",)) and isinstance(err.get("input"), list)):
        return f"was sent {len(err['input'])} times; send it once"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not an accepted field"
    if kind == "value_error":
        return str(ctx.get("error", "is not valid"))
    if kind in ("too_long", "string_too_long") and isinstance(err.get("input"), str):
        return f"must be at most {_count(ctx.get('max_length'), 'character')}"
    if kind in ("too_short", "string_too_short") and isinstance(err.get("input"), str):
        return f"must be at least {_count(ctx.get('min_length'), 'character')}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"must be {'at least' if kind == 'greater_than_equal' else 'at most'} {ctx.get('ge', ctx.get('le'))}"
    return str(err.get("msg", "is not valid"))


def _count(n: Any, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@app.exception_handler(DomainError)
def _domain_error(exc: DomainError) -> Response:
    status = {
        "not_found": HTTPStatus.NOT_FOUND,
        "email_taken": HTTPStatus.CONFLICT,
        "invalid_cursor": HTTPStatus.BAD_REQUEST,
        "temporarily_unavailable": HTTPStatus.SERVICE_UNAVAILABLE,
        "rate_limited": HTTPStatus.TOO_MANY_REQUESTS,
    }.get(exc.code, HTTPStatus.BAD_REQUEST)
    headers = {}
    if isinstance(exc, (TemporarilyUnavailable, CreateLimitReached)):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    if isinstance(exc, TemporarilyUnavailable):
        logger.warning("data store busy", extra={"error_code": exc.code})
    if isinstance(exc, CreateLimitReached):
        metrics.add_metric(name="CreatesRateLimited", unit=MetricUnit.Count, value=1)
    if exc.code == "email_taken":
        metrics.add_metric(name="DuplicateEmailsRejected", unit=MetricUnit.Count, value=1)
    return error_response(status, exc.code, exc.message, headers=headers)


@app.exception_handler(IdempotencyValidationError)
def _idempotency_mismatch(_: IdempotencyValidationError) -> Response:
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "idempotency_key_reused", "This Idempotency-Key was used with a different body; use a new key.")


@app.exception_handler(IdempotencyAlreadyInProgressError)
def _idempotency_in_progress(_: IdempotencyAlreadyInProgressError) -> Response:
    return error_response(HTTPStatus.CONFLICT, "request_in_progress", "A request with this Idempotency-Key is still in progress; retry shortly.", headers={"Retry-After": "1"})


@app.exception_handler(IdempotencyPersistenceLayerError)
def _idempotency_store_busy(_: IdempotencyPersistenceLayerError) -> Response:
    # The idempotency record could not be read or written (throttling, say). Retrying with the
    # same key is safe: a create that already committed returns its user (adapters.aws.users_table).
    logger.warning("idempotency store unavailable")
    return error_response(HTTPStatus.SERVICE_UNAVAILABLE, "temporarily_unavailable", "The service is busy; retry with the same Idempotency-Key.", headers={"Retry-After": "1"})


@app.not_found
def _not_found(_: Exception) -> Response:
    # API Gateway answers undeclared routes and methods itself; this is for a call made otherwise.
    return error_response(HTTPStatus.NOT_FOUND, "not_found", "No such route.")


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    logger.exception("unhandled error")
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong on our side; quote the request id if you report it.")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _idempotency.register_lambda_context(context)
    # Every line of this request says who called; the last one says what came of it.
    logger.append_keys(caller=caller_of(event))
    response = refuse_body(event) or app.resolve(event, context)
    response["headers"] = {**(response.get("headers") or {}), **RESPONSE_HEADERS}
    logger.info("request handled", extra={"http_method": event.get("httpMethod"), "route": event.get("resource"),
                                          "status": response.get("statusCode")})
    return response


init_done()
