"""What a client of any stage sees over HTTP: the contract in docs/openapi.json, its errors and
its scopes. Nothing here reads the stage's data stores or lists every user; the users it creates
have SES mailbox-simulator addresses (tests/api/client.py)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urljoin

import pytest

from tests.api.client import Api, mailbox, new_user
from users import contract

pytestmark = pytest.mark.slow

USER_FIELDS = {"user_id", "name", "email", "created_at"}


def assert_error(reply: Any, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.body
    body = reply.json()
    assert body["error"]["code"] == code, body
    assert body["request_id"] == reply.headers["x-amzn-RequestId"]
    return body


def test_create_then_read_back_through_location(api: Api) -> None:
    user = new_user("create")
    created = api.request("POST", "/users", user)
    assert created.status == 201, created.body
    body = created.json()
    assert set(body) == USER_FIELDS and body["email"] == user["email"] and body["name"] == user["name"]
    uuid.UUID(body["user_id"])
    location = created.headers["Location"]
    assert location.endswith(f"/users/{body['user_id']}")
    fetched = api.request("GET", urljoin(api.url + "/", location))
    assert fetched.status == 200 and fetched.json() == body
    # The id as a client's UUID type may print it (Swift's is upper case) names the same user.
    upper = api.request("GET", f"/users/{body['user_id'].upper()}")
    assert upper.status == 200 and upper.json() == body


def test_one_mailbox_in_another_spelling_is_409_and_the_first_user_is_unchanged(api: Api) -> None:
    user = new_user("dup")
    created = api.request("POST", "/users", user).json()
    local, _, domain = user["email"].partition("@")
    first, rest = domain.split(".", 1)
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in first)  # IDNA maps it back to ASCII
    for spelling in (user["email"].upper(), f"{local}@{fullwidth}.{rest}", f"{local.upper()}@{first}\u3002{rest}"):
        assert_error(api.request("POST", "/users", {"name": "Twin", "email": spelling}), 409, "email_taken")
    assert api.request("GET", f"/users/{created['user_id']}").json() == created


def test_idempotency_key_replays_the_first_response(api: Api) -> None:
    user, key = new_user("idem"), str(uuid.uuid4())
    first = api.request("POST", "/users", user, headers={"Idempotency-Key": key})
    again = api.request("POST", "/users", user, headers={"Idempotency-Key": key})
    assert first.status == again.status == 201 and first.json() == again.json()


def test_pages_follow_their_cursors_without_repeats(api: Api) -> None:
    for _ in range(3):
        assert api.request("POST", "/users", new_user("page")).status == 201
    seen: list[str] = []
    path = "/users?limit=2"
    for _ in range(3):  # a few pages only: a deployed stage may hold many users
        page = api.request("GET", path)
        assert page.status == 200, page.body
        listing = page.json()
        assert len(listing["users"]) <= 2 and all(set(u) == USER_FIELDS for u in listing["users"])
        assert b"null" not in page.body  # no next_cursor: null on the last page
        seen += [u["user_id"] for u in listing["users"]]
        if "next_cursor" not in listing:
            break
        path = f"/users?limit=2&cursor={listing['next_cursor']}"
    assert len(seen) >= 3 and len(seen) == len(set(seen))


@pytest.mark.parametrize("body", [
    {"name": "No email"},
    {"name": "", "email": "a@example.com"},
    {"name": "Extra", "email": "a@example.com", "admin": True},
    {"name": "Bad", "email": "not-an-email"},
    {"name": "Reserved", "email": "someone@example.test"},
    ["not", "an", "object"],
])
def test_bad_bodies_are_400_in_the_error_contract(api: Api, body: Any) -> None:
    assert_error(api.request("POST", "/users", body), 400, "validation_error")


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "   ", "email": "a@example.com"}, "name"),
    ({"name": "Bell\u0007", "email": "a@example.com"}, "name"),
    ({"name": "Bad", "email": "not-an-email"}, "email"),
    ({"name": "Reserved", "email": "someone@example.test"}, "email"),
])
def test_a_rule_of_the_contract_is_named_by_field_in_words(api: Api, body: dict[str, str], field: str) -> None:
    """The contract's patterns are regexes; a client told only that its value does not match one
    cannot tell what to fix."""
    details = assert_error(api.request("POST", "/users", body), 400, "validation_error")["error"]["details"]
    assert [d.get("field") for d in details] == [field], details
    assert "does not match" not in details[0]["issue"] and "\\x00" not in details[0]["issue"], details


def test_a_bad_parameter_is_named_as_the_contract_spells_it(api: Api) -> None:
    repeated = assert_error(api.request("GET", "/users?limit=5&limit=6"), 400, "validation_error")["error"]["details"]
    assert repeated == [{"field": "limit", "issue": "was sent 2 times; send it once"}]
    long_key = api.request("POST", "/users", new_user("long-key"), headers={"Idempotency-Key": "k" * 256})
    assert assert_error(long_key, 400, "validation_error")["error"]["details"] == [
        {"field": "Idempotency-Key", "issue": "must be at most 255 characters"}]


def test_a_field_sent_twice_is_refused_and_creates_no_one(api: Api) -> None:
    first, second = mailbox("twice-a"), mailbox("twice-b")
    raw = f'{{"name": "Twice", "email": "{first}", "email": "{second}"}}'.encode()
    assert_error(api.request("POST", "/users", raw=raw), 400, "validation_error")
    for email in (first, second):  # neither mailbox was taken
        assert api.request("POST", "/users", {"name": "Once", "email": email}).status == 201


def test_every_answer_is_kept_by_no_cache_and_never_sniffed(api: Api) -> None:
    """The function's answers and API Gateway's own (no token, no such route) alike."""
    created = api.request("POST", "/users", new_user("no-store"))
    replies = [created, api.request("GET", f"/users/{created.json()['user_id']}"),
               api.request("GET", "/users", scopes=None), api.request("DELETE", "/users"), api.request("POST", "/users", {"name": ""})]
    assert [r.status for r in replies] == [201, 200, 401, 404, 400]
    for reply in replies:
        assert reply.headers["Cache-Control"] == "no-store" and reply.headers["X-Content-Type-Options"] == "nosniff", reply.status


def test_a_missing_field_is_named_in_details(api: Api) -> None:
    (detail,) = assert_error(api.request("POST", "/users", {"name": "No email"}), 400, "validation_error")["error"]["details"]
    assert "email" in detail["issue"]


def test_malformed_json_and_wrong_media_type(api: Api) -> None:
    assert_error(api.request("POST", "/users", raw=b'{"name": "x", '), 400, "validation_error")
    reply = api.request("POST", "/users", raw=f"name=x&email={mailbox('form')}".encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(reply, 415, "unsupported_media_type")


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "application/json; charset=utf-8"])
def test_json_media_types_match_without_case_and_with_parameters(api: Api, content_type: str) -> None:
    assert api.request("POST", "/users", new_user("media"), headers={"Content-Type": content_type}).status == 201


def test_bad_query_and_unknown_user(api: Api) -> None:
    for query, issue in (("limit=0", "must be at least 1"), ("limit=101", "must be at most 100"), ("limit=ten", "must be a whole number")):
        details = assert_error(api.request("GET", f"/users?{query}"), 400, "validation_error")["error"]["details"]
        assert details == [{"field": "limit", "issue": issue}], query
    assert_error(api.request("GET", "/users?cursor=not-a-cursor"), 400, "invalid_cursor")
    assert_error(api.request("GET", f"/users/{uuid.uuid4()}"), 404, "not_found")


def test_a_cursor_changed_in_one_character_is_400(api: Api) -> None:
    """Cursors are signed by the service: one changed character, wherever, makes it not one."""
    for _ in range(3):
        assert api.request("POST", "/users", new_user("cursor")).status == 201
    issued = api.request("GET", "/users?limit=1").json()["next_cursor"]
    assert api.request("GET", f"/users?limit=1&cursor={issued}").status == 200
    for at in (0, len(issued) // 2, len(issued) - 1):
        changed = issued[:at] + ("A" if issued[at] != "A" else "B") + issued[at + 1:]
        assert_error(api.request("GET", f"/users?limit=1&cursor={changed}"), 400, "invalid_cursor")


@pytest.mark.parametrize("authorization", [None, "", "Bearer not-a-jwt",
                                           "Bearer eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl91c2UiOiJpZCJ9.c2lnbmF0dXJl"])
def test_missing_or_bad_token_is_401(api: Api, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_error(api.request("GET", "/users", headers=headers, scopes=None), 401, "unauthorized")


def test_a_tampered_token_is_401(api: Api) -> None:
    head, payload, signature = api.token().split(".")
    forged = ".".join([head, payload, signature[:-4] + ("AAAA" if not signature.endswith("AAAA") else "BBBB")])
    assert_error(api.request("GET", "/users", headers={"Authorization": forged}), 401, "unauthorized")


def test_a_read_only_token_reads_and_may_not_create(api: Api) -> None:
    assert api.request("GET", "/users?limit=1", scopes=(contract.READ_SCOPE,)).status == 200
    assert_error(api.request("POST", "/users", new_user("read-only"), scopes=(contract.READ_SCOPE,)), 403, "forbidden")


def test_a_create_only_token_creates_and_may_not_read(api: Api) -> None:
    created = api.request("POST", "/users", new_user("create-only"), scopes=(contract.CREATE_SCOPE,))
    assert created.status == 201
    assert_error(api.request("GET", f"/users/{created.json()['user_id']}", scopes=(contract.CREATE_SCOPE,)), 403, "forbidden")


def test_unknown_routes_and_methods_are_404(api: Api) -> None:
    assert_error(api.request("GET", "/nothing-here"), 404, "not_found")
    assert_error(api.request("DELETE", "/users"), 404, "not_found")


def test_answers_carry_cors_for_an_allowed_origin(api: Api) -> None:
    if api.origin is None:
        pytest.skip("set ARCHON_ALLOWED_ORIGIN to one of the stage's api.cors_origins to check CORS")
    origin = api.origin
    preflight = api.request("OPTIONS", "/users", scopes=None, headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    assert preflight.status in (200, 204) and preflight.headers["Access-Control-Allow-Origin"] == origin
    for reply in (api.request("POST", "/users", new_user("cors"), headers={"Origin": origin}),
                  api.request("GET", "/users", scopes=None, headers={"Origin": origin})):
        assert reply.headers["Access-Control-Allow-Origin"] == origin
        assert "location" in reply.headers["Access-Control-Expose-Headers"].lower()
