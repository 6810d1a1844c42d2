"""Who may do what, over HTTP against the local runner: scopes per route from the template, the
token endpoint, and the runner's own endpoints kept to loopback."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from typing import Any, Callable

import pytest

from tools.runner_client import ROOT, Runner, runner_env
from users import contract

pytestmark = pytest.mark.slow


def token(runner: Runner, *scopes: str) -> str:
    reply = runner.request("POST", "/_local/token", {"scopes": list(scopes)} if scopes else None, auth=False)
    assert reply.status == 200, reply.body
    return str(reply.json()["token"])


def assert_error(reply: Any, status: int, code: str) -> None:
    assert reply.status == status, reply.body
    body = reply.json()
    assert set(body) == {"error", "request_id"} and body["error"]["code"] == code


def claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_the_default_token_may_read_and_create(runner: Runner) -> None:
    granted = claims(token(runner))
    assert granted["token_use"] == "access" and set(granted["scope"].split()) == {contract.READ_SCOPE, contract.CREATE_SCOPE}


def test_a_read_only_token_reads_and_may_not_create(runner: Runner) -> None:
    reader = {"Authorization": f"Bearer {token(runner, contract.READ_SCOPE)}"}
    assert runner.request("GET", "/users", headers=reader).status == 200
    before = runner.request("GET", "/users?limit=100").json()
    assert_error(runner.request("POST", "/users", {"name": "No", "email": f"no-{uuid.uuid4().hex[:8]}@example.com"}, headers=reader), 403, "forbidden")
    assert runner.request("GET", "/users?limit=100").json() == before


def test_a_create_only_token_creates_and_may_not_read(runner: Runner) -> None:
    creator = {"Authorization": f"Bearer {token(runner, contract.CREATE_SCOPE)}"}
    created = runner.request("POST", "/users", {"name": "Yes", "email": f"yes-{uuid.uuid4().hex[:8]}@example.com"}, headers=creator)
    assert created.status == 201
    assert_error(runner.request("GET", f"/users/{created.json()['user_id']}", headers=creator), 403, "forbidden")
    assert_error(runner.request("GET", "/users", headers=creator), 403, "forbidden")


@pytest.mark.parametrize("value", [
    "", "Bearer", "Bearer not.a.token", "Bearer a.b", "Bearer " + "x" * 4000, "Bearer e30.e30.e30",
    "Bearer eyJhbGciOiJub25lIn0.eyJ0b2tlbl91c2UiOiJhY2Nlc3MifQ.", "Bearer W10.W10.W10", "Basic dXNlcjpwYXNz",
])
def test_missing_or_malformed_tokens_are_401_in_the_error_body(runner: Runner, value: str) -> None:
    headers = {"Authorization": value} if value else {}
    assert_error(runner.request("GET", "/users", headers=headers, auth=bool(value)), 401, "unauthorized")


def test_the_token_endpoint_grants_a_client_its_scopes_and_nothing_more(launch: Callable[..., Runner]) -> None:
    runner = launch("--stage", "staging")  # staging's pool has a read-only client; dev keeps one client
    clients = {c["name"].rsplit("-", 1)[1]: c for c in runner.local("clients")["clients"]}  # archon-staging-reader
    reader = clients["reader"]

    def ask(client: dict[str, Any], scope: str | None, secret: str | None = None) -> Any:
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        basic = base64.b64encode(f"{client['client_id']}:{secret or client['client_secret']}".encode()).decode()
        return runner.request("POST", "/_local/oauth2/token", raw=urllib.parse.urlencode(form).encode(), auth=False,
                              headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})

    granted = ask(reader, None)
    assert granted.status == 200 and claims(granted.json()["access_token"])["scope"] == contract.READ_SCOPE
    refused = ask(reader, contract.CREATE_SCOPE)
    assert refused.status == 400 and refused.json()["error"] == "invalid_scope"
    assert ask(reader, None, secret="wrong").json()["error"] == "invalid_client"
    writer = {"Authorization": f"Bearer {ask(clients['service'], contract.CREATE_SCOPE).json()['access_token']}"}
    assert runner.request("POST", "/users", {"name": "Svc", "email": f"svc-{uuid.uuid4().hex[:8]}@example.com"}, headers=writer).status == 201


def test_make_token_mints_the_scopes_asked_for(runner: Runner) -> None:
    out = subprocess.run([sys.executable, "-m", "local_runner", "token", "--url", runner.url, "--scopes", contract.READ_SCOPE],
                         cwd=ROOT, env=runner_env(), capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert claims(out.stdout.strip())["scope"] == contract.READ_SCOPE
    bad = subprocess.run([sys.executable, "-m", "local_runner", "token", "--url", runner.url, "--scopes", "users/delete"],
                         cwd=ROOT, env=runner_env(), capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and bad.stdout == "" and "users/delete" in bad.stderr and len(bad.stderr.splitlines()) == 1


def raw_request(runner: Runner, request: bytes, *, read_timeout: float = 10.0) -> bytes:
    host, port = urllib.parse.urlsplit(runner.url).hostname, urllib.parse.urlsplit(runner.url).port
    with socket.create_connection((host, port), timeout=read_timeout) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:3000", "127.0.0.1.nip.io", "0.0.0.0:3000", ""])
def test_local_endpoints_refuse_a_non_loopback_host_a_rebound_page_would_send(runner: Runner, host: str) -> None:
    answer = raw_request(runner, f"POST /_local/token HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert b"eyJ" not in answer  # no token
    outbox = raw_request(runner, f"GET /_local/outbox HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    assert outbox.startswith(b"HTTP/1.1 403")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:3000", "[::1]:3000", "127.0.0.2"])
def test_local_endpoints_answer_loopback_hosts(runner: Runner, host: str) -> None:
    answer = raw_request(runner, f"GET /_local/status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_a_one_megabyte_header_is_refused_unread(runner: Runner) -> None:
    answer = raw_request(runner, b"GET /users HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "headers_too_large"


def test_a_body_over_api_gateways_limit_is_refused_unread_in_the_error_contract(runner: Runner) -> None:
    answer = raw_request(runner, b"POST /users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n{" % (10 * 1024 * 1024 + 1))
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 413"), head
    reply = json.loads(body)
    assert reply["error"]["code"] == "payload_too_large"
    assert f"x-amzn-requestid: {reply['request_id']}".encode() in head.lower()


def test_too_many_headers_are_refused(runner: Runner) -> None:
    headers = b"".join(b"X-H%d: 1\r\n" % i for i in range(150))
    answer = raw_request(runner, b"GET /users HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


EVERY_ANSWER = (b"cache-control: no-store", b"x-content-type-options: nosniff")


@pytest.mark.parametrize("request_bytes", [
    b"OPTIONS /users HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:3000\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n",
    b"GET /users HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
    b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    b"GET /_local/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    b"GET /_local/docs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    b"GET /_local/mailbox/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
], ids=["preflight", "431", "404", "local", "redirect", "page"])
def test_every_answer_carries_no_store_and_nosniff(runner: Runner, request_bytes: bytes) -> None:
    head = raw_request(runner, request_bytes).split(b"\r\n\r\n", 1)[0].lower()
    assert all(header in head for header in EVERY_ANSWER), head


@pytest.mark.parametrize("page", ["docs", "mailbox"])
def test_the_pages_answer_without_their_slash_and_to_head(runner: Runner, page: str) -> None:
    moved = raw_request(runner, f"GET /_local/{page} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    assert moved.startswith(b"HTTP/1.1 308") and f"location: /_local/{page}/".encode() in moved.lower(), moved[:300]
    got = raw_request(runner, f"GET /_local/{page}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    head = raw_request(runner, f"HEAD /_local/{page}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    assert got.startswith(b"HTTP/1.1 200") and head.startswith(b"HTTP/1.1 200"), head[:300]
    got_head, got_body = got.split(b"\r\n\r\n", 1)
    assert head.split(b"\r\n\r\n", 1)[1] == b"" and got_body
    assert f"content-length: {len(got_body)}".encode() in head.lower()


def test_deeply_nested_json_is_a_400_in_the_error_body(runner: Runner) -> None:
    deep = b'{"name": ' + b"[" * 50_000 + b"]" * 50_000 + b', "email": "a@example.com"}'
    reply = runner.request("POST", "/users", raw=deep)
    assert reply.status in (400, 413), reply.body
    assert set(reply.json()) == {"error", "request_id"}


BODY_ISSUE = "send a JSON object with name and email, both strings, as docs/openapi.json describes"


@pytest.mark.parametrize("raw", [b'{"name": "Ada", ', b'{"name": "Ada"}\n{', b'{"name": "\xff"}', b"null", b'{"name": true, "email": "a@example.com"}',
                                 b'{"name": "\\"}], \"x\": [{\"", "email": 1}', json.dumps({"name": "\u00e9" * 101, "email": "a@example.com"}).encode()])
def test_a_body_the_model_refuses_gets_valid_json_that_echoes_nothing(runner: Runner, raw: bytes) -> None:
    """API Gateway's validation text quotes what it refuses and a gateway response cannot escape
    it, so the template embeds none of it: the body is the error contract, and the same on AWS."""
    reply = runner.request("POST", "/users", raw=raw)
    assert reply.status == 400, reply.body
    error = reply.json()["error"]
    assert error["code"] == "validation_error" and error["details"] == [{"issue": BODY_ISSUE}]
    assert b"Ada" not in reply.body and "\u00e9".encode() not in reply.body


def test_binding_beyond_loopback_needs_the_flag_and_warns(synth, tmp_path) -> None:
    from tools.runner_client import READY, START_TIMEOUT

    serve = [sys.executable, "-m", "local_runner", "serve", "--host", "0.0.0.0", "--port", "0", "--assembly", str(synth.outdir),
             "--log-file", str(tmp_path / "functions.log")]
    started = time.monotonic()
    refused = subprocess.run(serve, cwd=ROOT, env=runner_env(), capture_output=True, text=True, timeout=START_TIMEOUT)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "--allow-non-loopback" in refused.stderr and len(refused.stderr.splitlines()) == 1
    errors = tmp_path / "stderr"
    process = subprocess.Popen([*serve, "--allow-non-loopback"], cwd=ROOT, env=runner_env(), stdout=subprocess.PIPE,
                               stderr=errors.open("w"), text=True)
    try:
        assert process.stdout is not None
        while not READY.search(process.stdout.readline()):
            assert process.poll() is None and time.monotonic() - started < START_TIMEOUT, errors.read_text()
        assert "warning: serving on 0.0.0.0, reachable from other machines" in errors.read_text()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_caller_past_its_hourly_creates_gets_429_with_retry_after_and_no_email(launch) -> None:
    limited = launch("--creates-per-caller", "3", "--batching-window", "0")
    emails = [f"limit-{i}-{uuid.uuid4().hex[:8]}@example.com" for i in range(4)]
    assert [limited.request("POST", "/users", {"name": "L", "email": e}).status for e in emails[:3]] == [201, 201, 201]
    refused = limited.request("POST", "/users", {"name": "L", "email": emails[3]})
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    other = token(limited)  # the same client: the same caller, the same budget
    assert limited.request("POST", "/users", {"name": "L", "email": emails[3]}, headers={"Authorization": f"Bearer {other}"}).status == 429
    assert limited.wait_for(lambda: len([e for e in limited.local("outbox")["emails"] if e["to"][0] in emails]) == 3, timeout=30)
    assert not [e for e in limited.local("outbox")["emails"] if emails[3] in e["to"]]
    # Past the limit, a registered address is 429 as an unknown one is: probing costs as creating does.
    assert_error(limited.request("POST", "/users", {"name": "L", "email": emails[0]}), 429, "rate_limited")


@pytest.mark.parametrize("name", ["Ada\u202eecalevoL", "\u2066Ada\u2069", "Ada\u200bLovelace", "Ada\u0007"])
def test_names_with_control_format_or_bidi_override_characters_are_400(runner: Runner, name: str) -> None:
    reply = runner.request("POST", "/users", {"name": name, "email": f"bidi-{uuid.uuid4().hex[:8]}@example.com"})
    assert_error(reply, 400, "validation_error")
    (detail,) = reply.json()["error"]["details"]  # from the gateway's request model or the function
    assert detail.get("field") == "name" or "/name" in detail["issue"]


@pytest.mark.parametrize(("content_type", "raw"), [
    ("application/json; charset=utf-16", json.dumps({"name": "Ada", "email": "a@example.com"}).encode("utf-16")),
    ("application/json; charset=latin-1", b'{"name": "Ad\xe9", "email": "a@example.com"}'),
    ('application/json; charset="UTF-16LE"', json.dumps({"name": "Ada"}).encode("utf-16-le")),
    ("application/json; charset=utf-16", json.dumps({"name": "Ada", "email": "a@example.com"}).encode("utf-8")),
    ("application/json", json.dumps({"name": "Ada", "email": "a@example.com"}).encode("utf-16")),
])
def test_a_body_in_another_charset_is_refused_never_a_500(runner: Runner, content_type: str, raw: bytes) -> None:
    """Refused by the gateway's model (400) where it reads the body, else by the function: 415 for
    a charset other than UTF-8, 400 for bytes that are not UTF-8. Never a 500."""
    reply = runner.request("POST", "/users", raw=raw, headers={"Content-Type": content_type})
    assert reply.status in (400, 415), reply.body
    error = reply.json()["error"]
    assert (reply.status, error["code"]) in ((400, "validation_error"), (400, "invalid_json"), (415, "unsupported_media_type")), error
    if reply.status == 415:
        assert "UTF-8" in error["message"]


@pytest.mark.parametrize("name", ["\u3164", "\u2800\u2800", "\u0301\u0302", "A" + "\u0301" * 99, "Ada\u034fLovelace", "Ada\ufe00"])
def test_names_that_look_blank_or_stack_marks_are_400(runner: Runner, name: str) -> None:
    reply = runner.request("POST", "/users", {"name": name, "email": f"blank-{uuid.uuid4().hex[:8]}@example.com"})
    assert_error(reply, 400, "validation_error")
    assert reply.json()["error"]["details"][0].get("field") == "name"


def test_the_welcome_email_carries_nothing_the_caller_wrote(runner: Runner) -> None:
    phishing = "Ada, your account is suspended: visit https://evil.example/login"
    email = f"phish-{uuid.uuid4().hex[:8]}@example.com"
    assert runner.request("POST", "/users", {"name": phishing, "email": email}).status == 201
    assert runner.wait_for(lambda: [e for e in runner.local("outbox")["emails"] if email in e["to"]], timeout=30)
    [sent] = [e for e in runner.local("outbox")["emails"] if email in e["to"]]
    assert "evil.example" not in sent["body"] and "suspended" not in sent["body"] and "Ada" not in sent["body"]
    assert sent["subject"] == "Welcome to Archon"


@pytest.mark.parametrize(("email", "says"), [
    ("stra\u00dfe-{tag}@example.com", "must be ASCII: this stage's mail provider"),
    ("ada\u034f-{tag}@example.com", "render as nothing (U+034F)"),
    ("ada-{tag}@exa\u200bmple.com", "render as nothing (U+200B)"),
])
def test_mailboxes_mail_cannot_reach_or_that_look_like_others_are_400(runner: Runner, email: str, says: str) -> None:
    reply = runner.request("POST", "/users", {"name": "Ada", "email": email.format(tag=uuid.uuid4().hex[:8])})
    assert_error(reply, 400, "validation_error")
    [detail] = reply.json()["error"]["details"]
    assert detail["field"] == "email" and says in detail["issue"], detail


def test_spellings_mail_systems_keep_apart_are_two_users(runner: Runner) -> None:
    tag = uuid.uuid4().hex[:8]
    assert runner.request("POST", "/users", {"name": "Ada", "email": f"file-{tag}@example.com"}).status == 201
    assert runner.request("POST", "/users", {"name": "Ada", "email": f"FILE-{tag}@example.com"}).status == 409
    assert runner.request("POST", "/users", {"name": "Ada", "email": f"fil-{tag}@example.com"}).status == 201
