"""What every answer carries (CORS, cache and sniffing headers) and what every request logs (caller, outcome, audit), and never (names, emails)."""

from __future__ import annotations

import json
import uuid
import pytest
from tests.unit.events import api_event
from tests.unit.api_calls import Reply, assert_error, call, create  # noqa: F401


@pytest.mark.parametrize(("event", "status"), [
    (api_event("POST", "/users", body={"name": "Ada", "email": "ada@example.com"}), 201),
    (api_event("GET", "/users"), 200),
    (api_event("GET", "/users/0b6f4f8e-5a43-4a8e-9a51-3c0f0d3f6f11"), 404),
    (api_event("POST", "/users", body={"name": ""}), 400),
    (api_event("POST", "/users", body="name=Ada", headers={"Content-Type": "text/plain"}), 415),
    (api_event("POST", "/users", body={"name": "x" * 9000, "email": "ada@example.com"}), 413),
])
def test_every_answer_is_kept_by_no_cache_and_never_sniffed(aws, context, event, status):
    """Answers hold users' names and emails: no cache between the client and the API keeps them."""
    reply = call(aws, context, event)
    assert reply.status == status, reply.body
    assert reply.headers["cache-control"] == "no-store" and reply.headers["x-content-type-options"] == "nosniff"


def test_a_refused_body_still_gets_cors_headers_for_a_configured_origin(aws, context):
    event = api_event("POST", "/users", body="x", headers={"Content-Type": "text/plain", "Origin": "https://app.example.com"})
    reply = call(aws, context, event)
    assert_error(reply, 415, "unsupported_media_type")
    assert reply.headers["access-control-allow-origin"] == "https://app.example.com"


def test_location_and_retry_after_are_exposed_to_browsers(aws, context):
    reply = create(aws, context, headers={"Origin": "https://app.example.com"})
    exposed = {h.strip().lower() for h in reply.headers["access-control-expose-headers"].split(",")}
    assert {"location", "retry-after"} <= exposed


def test_cors_headers_only_for_configured_origins(aws, context):
    allowed = call(aws, context, api_event("GET", "/users", headers={"Origin": "https://app.example.com"}))
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    other = call(aws, context, api_event("GET", "/users", headers={"Origin": "https://evil.example.com"}))
    assert other.headers.get("access-control-allow-origin") != "https://evil.example.com"
    assert other.headers.get("access-control-allow-origin") != "*"


def test_logs_carry_the_request_id_and_no_names_or_emails(aws, context, caplog):
    event = api_event("POST", "/users", body={"name": "Secret Name", "email": "secret.person@example.com"})
    with caplog.at_level("INFO"):
        call(aws, context, event)
    formatter = aws.users_api.logger.registered_formatter
    lines = [formatter.format(r) for r in caplog.records if r.name == aws.users_api.logger.name]
    logs = [json.loads(line) for line in lines]
    assert logs and all(entry.get("correlation_id") == event["requestContext"]["requestId"] for entry in logs)
    text = "\n".join(lines)
    assert "Secret Name" not in text and "secret.person@example.com" not in text


@pytest.mark.parametrize("event, caller, status", [
    (api_event("POST", "/users", body={"name": "Secret Name", "email": "secret.person@example.com"}, sub="client-abc"), "client-abc", 201),
    (api_event("GET", f"/users/{uuid.uuid4()}", sub="client-xyz"), "client-xyz", 404),
    (api_event("POST", "/users", body={"name": "Secret Name", "email": "not-an-email"}, sub="client-abc"), "client-abc", 400),
])
def test_every_request_logs_its_caller_and_outcome_and_no_names_or_emails(aws, context, caplog, event, caller, status):
    with caplog.at_level("INFO"):
        call(aws, context, event)
    formatter = aws.users_api.logger.registered_formatter
    lines = [formatter.format(r) for r in caplog.records if r.name == aws.users_api.logger.name]
    logs = [json.loads(line) for line in lines]
    assert all(entry["caller"] == caller for entry in logs)
    (outcome,) = [entry for entry in logs if entry["message"] == "request handled"]
    assert outcome["status"] == status and outcome["http_method"] == event["httpMethod"] and outcome["route"] == event["resource"]
    text = "\n".join(lines)
    assert "Secret Name" not in text and "secret.person" not in text and "not-an-email" not in text


def test_every_read_and_list_leaves_an_audit_line_of_who_read_whom(aws, context, caplog):
    """The audit trail answers "who read which user, when": a read logs the caller and the user id,
    a list the caller, limit, whether a cursor was given and how many users came back."""
    first = create(aws, context, email="audited.one@example.com").body
    create(aws, context, email="audited.two@example.com")
    page = call(aws, context, api_event("GET", "/users", query={"limit": "1"}, sub="auditor")).body
    with caplog.at_level("INFO"):
        call(aws, context, api_event("GET", f"/users/{first['user_id'].upper()}", sub="auditor"))
        call(aws, context, api_event("GET", "/users", query={"limit": "1", "cursor": page["next_cursor"]}, sub="auditor"))
    formatter = aws.users_api.logger.registered_formatter
    logs = [json.loads(formatter.format(r)) for r in caplog.records if r.name == aws.users_api.logger.name]
    read, listed = [entry for entry in logs if "audit" in entry][-2:]
    assert (read["audit"], read["caller"], read["user_id"]) == ("read", "auditor", first["user_id"])
    assert (listed["audit"], listed["caller"], listed["limit"], listed["cursor_given"], listed["returned"]) == ("list", "auditor", 1, True, 1)
    assert "audited.one" not in json.dumps(logs) and "audited.two" not in json.dumps(logs)


def test_one_callers_requests_do_not_leak_their_caller_into_the_next(aws, context, caplog):
    call(aws, context, api_event("GET", "/users", sub="first-caller"))
    with caplog.at_level("INFO"):
        call(aws, context, {**api_event("GET", "/users"), "requestContext": {**api_event("GET", "/users")["requestContext"], "authorizer": None}})
    formatter = aws.users_api.logger.registered_formatter
    logs = [json.loads(formatter.format(r)) for r in caplog.records if r.name == aws.users_api.logger.name]
    assert logs and all(entry["caller"] == "anonymous" for entry in logs)
