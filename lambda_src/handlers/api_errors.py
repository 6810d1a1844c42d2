"""How the users API answers what went wrong, in its error contract (users.models.ErrorResponse):
request validation, the domain's errors, idempotency conflicts, and anything unexpected (a 500
that names no internals). `register` puts the handlers on the resolver."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)

from users.errors import CreateLimitReached, DomainError, TemporarilyUnavailable
from users.models import ErrorBody, ErrorDetail, ErrorResponse

# The status each domain error answers with (users.errors names the codes).
DOMAIN_STATUS = {
    "not_found": HTTPStatus.NOT_FOUND,
    "email_taken": HTTPStatus.CONFLICT,
    "invalid_cursor": HTTPStatus.BAD_REQUEST,
    "temporarily_unavailable": HTTPStatus.SERVICE_UNAVAILABLE,
    "rate_limited": HTTPStatus.TOO_MANY_REQUESTS,
}


def _request_id(app: APIGatewayRestResolver) -> str:
    try:
        return app.current_event.request_context.request_id or "unknown"
    except Exception:  # an event without a request context
        return "unknown"


def error_response(app: APIGatewayRestResolver, status: HTTPStatus, code: str, message: str, details: list[ErrorDetail] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details or []), request_id=_request_id(app))
    return Response(status_code=status, content_type="application/json", body=body.model_dump_json(exclude_none=True), headers=headers)


def proxy_error(event: dict[str, Any], cors: CORSConfig | None, status: HTTPStatus, code: str, message: str,
                details: list[ErrorDetail] | None = None) -> dict[str, Any]:
    """An error in the contract, as a Lambda proxy response, with the CORS headers Powertools adds."""
    request_id = (event.get("requestContext") or {}).get("requestId") or "unknown"
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details or []), request_id=request_id)
    origin = next((v for k, v in (event.get("headers") or {}).items() if k.lower() == "origin"), None)
    return {"statusCode": int(status), "headers": {"Content-Type": "application/json", **(cors.to_dict(origin) if cors else {})},
            "body": body.model_dump_json(), "isBase64Encoded": False}


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


def register(app: APIGatewayRestResolver, *, logger: Logger, metrics: Metrics) -> None:
    """The resolver's exception handlers, each answering in the error contract."""

    @app.exception_handler(RecursionError)
    def _too_deep(_: RecursionError) -> Response:
        return error_response(app, HTTPStatus.BAD_REQUEST, "invalid_json", "The body is nested too deeply to be a user.")

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response:
        details: dict[str, ErrorDetail] = {}
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                return error_response(app, HTTPStatus.BAD_REQUEST, "invalid_json", "The body is not valid JSON.")
            field = _field(tuple(err.get("loc", ())))
            details.setdefault(field, ErrorDetail(field=field or None, issue=_issue(err)))  # one per field
        return error_response(app, HTTPStatus.BAD_REQUEST, "validation_error", "The request is not valid; see details.", list(details.values()))

    @app.exception_handler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        status = DOMAIN_STATUS.get(exc.code, HTTPStatus.BAD_REQUEST)
        headers = {}
        if isinstance(exc, (TemporarilyUnavailable, CreateLimitReached)):
            headers["Retry-After"] = str(exc.retry_after_seconds)
        if isinstance(exc, TemporarilyUnavailable):
            logger.warning("data store busy", extra={"error_code": exc.code})
        if isinstance(exc, CreateLimitReached):
            metrics.add_metric(name="CreatesRateLimited", unit=MetricUnit.Count, value=1)
        if exc.code == "email_taken":
            metrics.add_metric(name="DuplicateEmailsRejected", unit=MetricUnit.Count, value=1)
        return error_response(app, status, exc.code, exc.message, headers=headers)

    @app.exception_handler(IdempotencyValidationError)
    def _idempotency_mismatch(_: IdempotencyValidationError) -> Response:
        return error_response(app, HTTPStatus.UNPROCESSABLE_ENTITY, "idempotency_key_reused", "This Idempotency-Key was used with a different body; use a new key.")

    @app.exception_handler(IdempotencyAlreadyInProgressError)
    def _idempotency_in_progress(_: IdempotencyAlreadyInProgressError) -> Response:
        return error_response(app, HTTPStatus.CONFLICT, "request_in_progress", "A request with this Idempotency-Key is still in progress; retry shortly.", headers={"Retry-After": "1"})

    @app.exception_handler(IdempotencyPersistenceLayerError)
    def _idempotency_store_busy(_: IdempotencyPersistenceLayerError) -> Response:
        # The idempotency record could not be read or written (throttling, say). Retrying with the
        # same key is safe: a create that already committed returns its user (adapters.aws.users_table).
        logger.warning("idempotency store unavailable")
        return error_response(app, HTTPStatus.SERVICE_UNAVAILABLE, "temporarily_unavailable", "The service is busy; retry with the same Idempotency-Key.", headers={"Retry-After": "1"})

    @app.not_found
    def _not_found(_: Exception) -> Response:
        # API Gateway answers undeclared routes and methods itself; this is for a call made otherwise.
        return error_response(app, HTTPStatus.NOT_FOUND, "not_found", "No such route.")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(app, HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong on our side; quote the request id if you report it.")
