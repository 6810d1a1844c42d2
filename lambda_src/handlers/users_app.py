"""The users API's routes, on any cloud: Powertools' REST resolver over an API Gateway REST proxy
event, the one request shape both clouds' entry points hand it (handlers.users_api on Lambda,
handlers.gcp.users_api on Cloud Run functions, which builds the event from its HTTP request).

Routes and their models are declared once here; Powertools turns them into the OpenAPI document
(`docs/openapi.json`) and validates requests against them. What differs per cloud comes in as
arguments: the domain service over the cloud's store, and the idempotency records' store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer, IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel
from pydantic.json_schema import SkipJsonSchema

from handlers import api_errors
from handlers.api_responses import NOT_FOUND, error, responses, retry_after
from handlers.json_body import json_fields_once
from handlers.request_body import refuse_body
from users import contract
from users import cursor as cursor_codec
from users.logic import UsersService
from users.models import PAGE_DEFAULT, PAGE_MAX, NewUser, User, UserPage

# On every answer: users' names and emails are kept by no cache, and no browser reads a body as
# anything but the JSON it is declared (API Gateway's own answers carry the same, cdk_app/api.py).
RESPONSE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# The OAuth scopes checked per route (API Gateway on AWS, the entry point on GCP), declared here
# for the OpenAPI document.
READ_SCOPE, CREATE_SCOPE = contract.READ_SCOPE, contract.CREATE_SCOPE
SECURITY_SCHEME = "cognito"
IDEMPOTENCY_HOURS = 24


def caller_of(event: dict[str, Any]) -> str:
    """Who called: the token's subject (a machine client's is its client id), as the authorizer
    passed it. Never a name or an email."""
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("claims") or {}
    return str(claims.get("sub") or claims.get("client_id") or "anonymous")


class CreateRequest(BaseModel):
    """What a create with an Idempotency-Key is keyed (`key`: caller and key) and checked by (`body`)."""

    key: str
    body: NewUser


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    # Browsers may read Location and Retry-After only if they are exposed.
    return CORSConfig(allow_origin=origins[0], extra_origins=list(origins[1:]), allow_headers=["Idempotency-Key"],
                      expose_headers=["Location", "Retry-After"], max_age=600) if origins else None


@dataclass(frozen=True)
class UsersApi:
    app: APIGatewayRestResolver
    cors: CORSConfig | None
    handle: Callable[[dict[str, Any], Any], dict[str, Any]]  # (proxy event, context) -> proxy response


def build_users_api(*, service: UsersService, idempotency_store: BasePersistenceLayer, cors_origins: tuple[str, ...],
                    logger: Logger, metrics: Metrics) -> UsersApi:
    idempotency = IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="body",
                                    expires_after_seconds=IDEMPOTENCY_HOURS * 3600)
    cors = cors_config(cors_origins)
    app = APIGatewayRestResolver(enable_validation=True, cors=cors, json_body_deserializer=json_fields_once)
    api_errors.register(app, logger=logger, metrics=metrics)

    @idempotent_function(data_keyword_argument="request", config=idempotency, persistence_store=idempotency_store,
                         output_serializer=PydanticSerializer(model=User))
    def create_once(request: CreateRequest) -> User:
        return create(request.body, request_key=request.key)

    def create(new_user: NewUser, request_key: str | None = None) -> User:
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
            user = create_once(request=CreateRequest(key=f"{caller}:{idempotency_key}", body=body))
        else:
            user = create(body)
        return Response(
            status_code=HTTPStatus.CREATED,
            content_type="application/json",
            body=user,
            headers={"Location": f"{_base_path(app.current_event.raw_event)}/users/{user.user_id}"},
        )

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

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        idempotency.register_lambda_context(context)
        # Every line of this request says who called; the last one says what came of it.
        logger.append_keys(caller=caller_of(event))
        response = refuse_body(event, cors=cors) or app.resolve(event, context)
        response["headers"] = {**(response.get("headers") or {}), **RESPONSE_HEADERS}
        logger.info("request handled", extra={"http_method": event.get("httpMethod"), "route": event.get("resource"),
                                              "status": response.get("statusCode")})
        return response

    return UsersApi(app=app, cors=cors, handle=handle)


def _base_path(event: dict[str, Any]) -> str:
    """The path the client used before the route: the stage ("/dev") on the execute-api URL, a
    custom domain's base path mapping ("/v1"), or nothing. API Gateway's requestContext.path
    is the path as the client sent it; the event's path is the route's."""
    sent = (event.get("requestContext") or {}).get("path") or ""
    route = event.get("path") or ""
    return sent[: -len(route)] if route and sent.endswith(route) else ""
