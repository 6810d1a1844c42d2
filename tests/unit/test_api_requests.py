"""What a request must be: its body, media type, charset and parameters, refused in the error contract."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
import pytest
from tests.unit.events import api_event
from tests.unit.api_calls import Reply, assert_error, call, create  # noqa: F401


@pytest.mark.parametrize(
    "body, code, field",
    [
        ({"name": "", "email": "a@example.com"}, "validation_error", "name"),
        ({"name": "   ", "email": "a@example.com"}, "validation_error", "name"),
        ({"name": "x" * 101, "email": "a@example.com"}, "validation_error", "name"),
        ({"name": "Bad\u0007Bell", "email": "a@example.com"}, "validation_error", "name"),
        ({"name": "Line\nBreak", "email": "a@example.com"}, "validation_error", "name"),
        ({"name": "Ada", "email": "not-an-email"}, "validation_error", "email"),
        ({"name": "Ada", "email": "a@b"}, "validation_error", "email"),
        ({"name": "Ada", "email": "a" * 65 + "@example.com"}, "validation_error", "email"),
        ({"name": "Ada"}, "validation_error", "email"),
        ({"email": "a@example.com"}, "validation_error", "name"),
        ({"name": "Ada", "email": "a@example.com", "admin": True}, "validation_error", "admin"),
        ({"name": 42, "email": "a@example.com"}, "validation_error", "name"),
    ],
)
def test_invalid_bodies_are_400_with_details_and_write_nothing(aws, context, body, code, field):
    reply = call(aws, context, api_event("POST", "/users", body=body))
    assert_error(reply, 400, code)
    assert field in [d.get("field") for d in reply.body["error"]["details"]]
    assert aws.items() == []


def _repeated(event: dict[str, Any], kind: str, name: str, values: list[str]) -> dict[str, Any]:
    """As API Gateway passes a header or query parameter sent more than once: the last value, and all."""
    single, multi = ("headers", "multiValueHeaders") if kind == "header" else ("queryStringParameters", "multiValueQueryStringParameters")
    event[single] = {**(event[single] or {}), name: values[-1]}
    event[multi] = {**(event[multi] or {}), name: values}
    return event


@pytest.mark.parametrize(("event", "field", "issue"), [
    (api_event("POST", "/users", body={"name": "Ada", "email": "a@example.com"}, headers={"Idempotency-Key": "k" * 256}),
     "Idempotency-Key", "must be at most 255 characters"),
    (_repeated(api_event("POST", "/users", body={"name": "Ada", "email": "a@example.com"}), "header", "Idempotency-Key", ["a", "b"]),
     "Idempotency-Key", "was sent 2 times; send it once"),
    (_repeated(api_event("GET", "/users", query={"limit": "5"}), "query", "limit", ["5", "6"]), "limit", "was sent 2 times; send it once"),
    (api_event("GET", "/users", query={"cursor": "c" * 3000}), "cursor", "must be at most 256 characters"),
    (api_event("POST", "/users", body={"name": "Ada", "email": "a@example.com"}, headers={"Idempotency-Key": ""}),
     "Idempotency-Key", "must be at least 1 character"),
    (api_event("GET", "/users", query={"limit": "0"}), "limit", "must be at least 1"),
    (api_event("GET", "/users", query={"limit": "101"}), "limit", "must be at most 100"),
    (api_event("GET", "/users", query={"limit": "ten"}), "limit", "must be a whole number"),
    (api_event("GET", "/users", query={"limit": "1.5"}), "limit", "must be a whole number"),
])
def test_a_bad_parameter_is_named_as_the_contract_spells_it_with_the_fix_in_words(aws, context, event, field, issue):
    """One detail per parameter, by its name in the contract (not pydantic's path to it, nor a
    union's members), saying what to change."""
    reply = call(aws, context, event)
    assert_error(reply, 400, "validation_error")
    assert reply.body["error"]["details"] == [{"field": field, "issue": issue}]
    assert aws.items() == []


@pytest.mark.parametrize(("body", "details"), [
    ('{"name": "Ada", "email": "ada@example.com", "email": "eve@example.com"}', [{"field": "email", "issue": "was sent 2 times; send it once"}]),
    ('{"name": "A", "name": "B", "email": "ada@example.com", "name": "C"}', [{"field": "name", "issue": "was sent 3 times; send it once"}]),
    ('{"name": "A", "email": "ada@example.com", "x": {"y": 1, "y": 2}}', [{"field": "x.y", "issue": "was sent 2 times; send it once"}]),
    ('{"name": "A", "email": "ada@example.com", "x": [{}, {"y": 1, "y": 2}]}', [{"field": "x.1.y", "issue": "was sent 2 times; send it once"}]),
])
def test_a_field_sent_twice_is_refused_not_settled_by_keeping_one_value(aws, context, body, details):
    """A reader that keeps the first value (a proxy, a request-model check) and one that keeps the
    last would see different users in one request: neither is chosen."""
    event = api_event("POST", "/users", body={})
    event["body"] = body
    reply = call(aws, context, event)
    assert_error(reply, 400, "validation_error")
    assert reply.body["error"]["details"] == details
    assert aws.items() == []


@pytest.mark.parametrize("body", ["{not json", "", "[]", '"just a string"', "null"])
def test_malformed_json_is_400(aws, context, body):
    reply = call(aws, context, api_event("POST", "/users", body=body))
    assert reply.status == 400
    assert reply.body["error"]["code"] in ("invalid_json", "validation_error")
    assert aws.items() == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_wrong_content_type_is_415(aws, context, content_type):
    event = api_event("POST", "/users", body="name=Ada&email=a%40example.com", headers={"Content-Type": content_type})
    assert_error(call(aws, context, event), 415, "unsupported_media_type")
    assert aws.items() == []


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8", "application/json;charset=utf-8", " application/json "])
def test_json_media_types_match_without_case_and_with_parameters(aws, context, content_type):
    event = api_event("POST", "/users", body={"name": "Ada", "email": f"{uuid.uuid4().hex[:8]}@example.com"}, headers={"Content-Type": content_type})
    assert call(aws, context, event).status == 201


def test_json_too_deeply_nested_is_400_in_the_error_body(aws, context):
    deep = '{"name": ' + "[" * 100_000 + "]" * 100_000 + ', "email": "a@example.com"}'
    reply = call(aws, context, api_event("POST", "/users", body=deep))
    assert reply.status in (400, 413)
    nested = '{"name": "Ada", "email": "a@example.com", "x": ' + "[" * 3000 + "]" * 3000 + "}"
    assert_error(call(aws, context, api_event("POST", "/users", body=nested)), 400, "invalid_json")
    assert aws.items() == []


def test_oversize_body_is_413(aws, context):
    event = api_event("POST", "/users", body={"name": "x" * 9000, "email": "a@example.com"})
    assert_error(call(aws, context, event), 413, "payload_too_large")


def test_an_unknown_route_reaching_the_function_is_404(aws, context):
    assert_error(call(aws, context, api_event("GET", "/nothing", resource="/nothing")), 404, "not_found")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-16", "application/json;charset=ISO-8859-1", 'application/json; charset="latin1"'])
def test_a_charset_other_than_utf8_is_415_before_the_body_is_read(aws, context, content_type):
    body = json.dumps({"name": "Ada", "email": "a@example.com"})
    reply = call(aws, context, api_event("POST", "/users", body=body, headers={"Content-Type": content_type}))
    assert_error(reply, 415, "unsupported_media_type")
    assert "UTF-8" in reply.body["error"]["message"]


def test_a_body_that_is_not_utf8_text_is_400_not_500(aws, context):
    event = api_event("POST", "/users", body=base64.b64encode('{"name": "Ada"}'.encode("utf-16")).decode())
    event["isBase64Encoded"] = True
    assert_error(call(aws, context, event), 400, "invalid_json")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/json; charset=UTF8", "application/json"])
def test_utf8_or_no_charset_is_taken(aws, context, content_type):
    body = json.dumps({"name": "Ada", "email": f"ada-{uuid.uuid4().hex[:6]}@example.com"})
    assert call(aws, context, api_event("POST", "/users", body=body, headers={"Content-Type": content_type})).status == 201
