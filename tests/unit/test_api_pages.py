"""Listing users: pages, their limits and the cursors between them."""

from __future__ import annotations

import base64
import json
import uuid
import pytest
from users.cursor import encode as encode_cursor
from tests.unit.conftest import CURSOR_KEY
from tests.unit.events import api_event
from tests.unit.api_calls import Reply, assert_error, call, create  # noqa: F401


def test_pagination_walks_more_than_three_pages_without_gaps_or_repeats(aws, context):
    created = [create(aws, context, email=f"p{i}@example.com").body["user_id"] for i in range(23)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": "5"} | ({"cursor": cursor} if cursor else {})
        reply = call(aws, context, api_event("GET", "/users", query=query))
        assert reply.status == 200
        pages += 1
        seen += [u["user_id"] for u in reply.body["users"]]
        cursor = reply.body.get("next_cursor")
        if not cursor:
            break
    assert pages == 5
    assert seen == created  # creation order, each once


def test_default_page_is_20_and_max_is_100(aws, context):
    for i in range(21):
        create(aws, context, email=f"d{i}@example.com")
    reply = call(aws, context, api_event("GET", "/users"))
    assert len(reply.body["users"]) == 20 and reply.body["next_cursor"]
    assert_error(call(aws, context, api_event("GET", "/users", query={"limit": "101"})), 400, "validation_error")
    assert_error(call(aws, context, api_event("GET", "/users", query={"limit": "0"})), 400, "validation_error")
    assert_error(call(aws, context, api_event("GET", "/users", query={"limit": "ten"})), 400, "validation_error")


def test_last_page_has_no_cursor(aws, context):
    for i in range(5):
        create(aws, context, email=f"l{i}@example.com")
    reply = call(aws, context, api_event("GET", "/users", query={"limit": "5"}))
    assert len(reply.body["users"]) == 5 and "next_cursor" not in reply.body  # absent, not null


@pytest.mark.parametrize("cursor", ["garbage", "eyJ2IjoxLCJwIjoiJ30", "eyJ2IjoyLCJwIjoiMjAyNi0wMS0wMVQwMDowMDowMC4wMDBaI3gifQ", "%%%", "e30"])
def test_tampered_cursor_is_400(aws, context, cursor):
    assert_error(call(aws, context, api_event("GET", "/users", query={"cursor": cursor})), 400, "invalid_cursor")


def _b64(raw: str) -> str:

    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


POSITION = "2026-01-01T00:00:00.000Z#0b6f4f8e-5a43-4a8e-9a51-3c0f0d3f6f11"


ISSUED = encode_cursor(POSITION, key=CURSOR_KEY.encode())


PAYLOAD, MAC = ISSUED.split(".")


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1:]


@pytest.mark.parametrize("cursor", [
    *(_flip(ISSUED, i) for i in range(0, len(ISSUED), 3) if ISSUED[i] != "."),  # any one character changed
    _b64(json.dumps({"v": 1, "p": POSITION}, separators=(",", ":"))),  # the previous format: no MAC
    f"{_b64(json.dumps({'p': POSITION, 'v': 2}, separators=(',', ':')))}.{MAC}",  # another spelling, the old MAC
    encode_cursor(POSITION, key=b"another key"),  # signed with a key that is not the stage's
    f"{PAYLOAD}.{MAC}.{MAC}", f"{PAYLOAD}.", f".{MAC}", PAYLOAD,
    ISSUED[:10] + "*" + ISSUED[10:],  # a character base64 decoding would skip
    ISSUED + "==",
])
def test_only_a_cursor_as_the_service_writes_and_signs_it_is_taken(aws, context, cursor):
    """A cursor carries an HMAC under the stage's cursor key: changed in any character, spelled
    otherwise, of the previous (unsigned) format or signed with another key, it is 400, and
    nothing of it reaches DynamoDB's start key."""
    assert call(aws, context, api_event("GET", "/users", query={"cursor": ISSUED})).status == 200
    assert_error(call(aws, context, api_event("GET", "/users", query={"cursor": cursor})), 400, "invalid_cursor")


def test_after_a_key_rotation_cursors_of_the_previous_key_still_work(aws, context):
    import boto3

    from tests.unit.conftest import CURSOR_KEY as OLD

    secrets = boto3.client("secretsmanager")
    name = aws.users_api.CURSOR_KEY_SECRET
    for _ in range(7):
        create(aws, context, email=f"rotate-{uuid.uuid4().hex[:8]}@example.com")
    before = call(aws, context, api_event("GET", "/users", query={"limit": "2"})).body["next_cursor"]
    try:
        secrets.put_secret_value(SecretId=name, SecretString=json.dumps({"current": "n" * 64, "previous": OLD}))
        aws.users_api.parameters.clear_caches()
        assert call(aws, context, api_event("GET", "/users", query={"cursor": before})).status == 200
        after = call(aws, context, api_event("GET", "/users", query={"limit": "2"})).body["next_cursor"]
        assert after != before  # signed with the new key
        secrets.put_secret_value(SecretId=name, SecretString=json.dumps({"current": "n" * 64}))  # the old key retired
        aws.users_api.parameters.clear_caches()
        assert_error(call(aws, context, api_event("GET", "/users", query={"cursor": before})), 400, "invalid_cursor")
        assert call(aws, context, api_event("GET", "/users", query={"cursor": after})).status == 200
    finally:
        secrets.put_secret_value(SecretId=name, SecretString=json.dumps({"current": OLD}))
        aws.users_api.parameters.clear_caches()


@pytest.mark.parametrize("limit", ["1", "100"])
def test_the_page_limit_is_taken_at_both_its_edges(aws, context, limit):
    for _ in range(2):
        create(aws, context, email=f"edge-{uuid.uuid4().hex[:8]}@example.com")
    reply = call(aws, context, api_event("GET", "/users", query={"limit": limit}))
    assert reply.status == 200 and len(reply.body["users"]) == min(int(limit), 2)
