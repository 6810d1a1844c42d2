"""The users API's answers as the OpenAPI document declares them: per route, each status, what it
carries and which layer (API Gateway or the function) answers it."""

from __future__ import annotations

from typing import Any

from users.models import ErrorResponse


def error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"model": ErrorResponse}}}
    if headers:
        answer["headers"] = headers
    return answer


def retry_after(description: str) -> dict[str, Any]:
    return {"Retry-After": {"description": description, "schema": {"type": "integer", "minimum": 1}}}


# What each status carries, route by route, and which layer answers it: API Gateway (its
# authorizer, request validator, throttling, integration) or the function. All in the error
# contract (ErrorResponse); `code` is what a client switches on.
ANY_ROUTE_ERRORS: dict[int, dict[str, Any]] = {
    401: error("unauthorized (API Gateway): the token is missing, expired, malformed or not an access token of the stage's user pool"),
    403: error("forbidden (API Gateway): the token is valid but lacks the route's scope"),
    429: error("throttled (API Gateway): over the stage's request rate; back off and retry",
                headers=retry_after("Seconds to wait, when the function answered (rate_limited)")),
    500: error("internal_error (function): quote the request_id if you report it"),
    502: error("internal_error (API Gateway): the function failed before it answered"),
    503: error("temporarily_unavailable (function): the data store is busy or the write region is out of reach; retry after Retry-After",
                headers=retry_after("Seconds to wait before retrying")),
    504: error("internal_error (API Gateway): the function did not answer in time"),
}


def responses(success: int, model: Any, description: str, route_errors: dict[int, Any], headers: dict[str, Any] | None = None) -> dict[int, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"model": model}}}
    if headers:
        answer["headers"] = headers
    return {success: answer, **ANY_ROUTE_ERRORS, **route_errors}


NOT_FOUND = error("not_found (API Gateway): no such route or method; not_found (function): no user has that id")
