"""The users service run locally, end to end over HTTP, as a newcomer would use it: what only a
runner shows (its outbox, queues, status and faults, every user listed). The API contract any
stage must keep is tests/api, which runs against a runner here too."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable

import boto3
import pytest

from tools.runner_client import ROOT, Runner
from users import contract

pytestmark = pytest.mark.slow


def new_user(tag: str = "") -> dict[str, str]:
    return {"name": f"User {tag}".strip(), "email": f"{tag or 'u'}-{uuid.uuid4().hex[:10]}@example.com"}


def assert_error(reply: Any, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.body
    body = reply.json()
    assert body["error"]["code"] == code
    assert body["request_id"] == reply.headers["x-amzn-RequestId"]
    return body


def emails_to(runner: Runner, address: str) -> list[dict[str, Any]]:
    return [e for e in runner.local("outbox")["emails"] if address in e["to"]]


def test_list_pages_through_every_user_once_in_creation_order(runner: Runner) -> None:
    mine = [runner.request("POST", "/users", new_user("page")).json()["user_id"] for _ in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        page = runner.request("GET", "/users?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert page.status == 200
        listing = page.json()
        assert len(listing["users"]) <= 2
        seen += [u["user_id"] for u in listing["users"]]
        pages += 1
        cursor = listing.get("next_cursor")
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert [u for u in seen if u in mine] == mine
    assert pages >= 3


def test_duplicate_email_in_any_case_is_409_and_leaves_nothing(runner: Runner) -> None:
    user = new_user("dup")
    assert runner.request("POST", "/users", user).status == 201
    before = runner.request("GET", "/users?limit=100").json()
    reply = runner.request("POST", "/users", {"name": "Other", "email": user["email"].upper()})
    assert_error(reply, 409, "email_taken")
    assert runner.request("GET", "/users?limit=100").json() == before


def one_mailbox(tag: str) -> list[str]:
    """Spellings of one fresh mailbox: A-Z case before the @; case, NFC and NFD, Unicode, punycode
    and fullwidth forms of the domain."""
    return [f"jose-{tag}@b\u00fccher.example", f"JOSE-{tag.upper()}@xn--bcher-kva.EXAMPLE",
            f"Jose-{tag}@bu\u0308cher.example", f"jose-{tag.upper()}@\uff42\u00fc\uff43\uff48\uff45\uff52\uff0eexample",
            f"jOSE-{tag}@B\u00dcCHER\u3002example"]


def test_every_spelling_of_one_mailbox_is_one_user_with_one_welcome_email(runner: Runner) -> None:
    tag = uuid.uuid4().hex[:10]
    first, *others = one_mailbox(tag)
    created = runner.request("POST", "/users", {"name": "Jos\u00e9", "email": first})
    assert created.status == 201 and created.json()["email"] == first
    for spelling in others:
        assert_error(runner.request("POST", "/users", {"name": "Twin", "email": spelling}), 409, "email_taken")
    delivery = f"jose-{tag}@xn--bcher-kva.example"
    assert runner.wait_for(lambda: emails_to(runner, delivery), timeout=30)
    assert len(emails_to(runner, delivery)) == 1


def test_racing_spellings_of_one_mailbox_give_exactly_one_201(runner: Runner) -> None:
    import threading

    spellings = one_mailbox(uuid.uuid4().hex[:10])
    statuses: list[int] = []
    barrier = threading.Barrier(len(spellings))

    def racer(email: str) -> None:
        barrier.wait()
        statuses.append(runner.request("POST", "/users", {"name": "Racer", "email": email}).status)

    threads = [threading.Thread(target=racer, args=(e,)) for e in spellings]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [409] * (len(spellings) - 1)


def test_unknown_route_and_method_are_404(runner: Runner) -> None:
    # API Gateway's own message here is "Missing Authentication Token", whatever the token.
    assert assert_error(runner.request("GET", "/nothing-here"), 404, "not_found")["error"]["message"] == "No such route or method."
    assert_error(runner.request("DELETE", "/users"), 404, "not_found")
    # Methods http.server itself does not know were a 501 HTML page before; the fuzz found it.
    for method in ("TRACE", "QUERY"):
        assert_error(runner.request(method, "/users"), 404, "not_found")


def test_a_client_leaving_mid_answer_is_not_an_error(runner: Runner) -> None:
    """autocannon closing its connections at the end of a run printed a BrokenPipeError
    traceback per connection on the runner's stderr."""
    import socket
    import struct
    from urllib.parse import urlsplit

    url = urlsplit(runner.url)
    request = f"GET /users HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {runner.token}\r\n\r\n".encode()
    for _ in range(20):
        with socket.create_connection((url.hostname, url.port)) as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
            client.sendall(request)
    assert runner.request("GET", "/users").status == 200  # still serving
    assert runner.stderr is not None and "Traceback" not in runner.stderr.read_text()


def test_status_counts_every_answer(runner: Runner) -> None:
    before = runner.local("status")["api_responses"]
    runner.request("GET", "/nothing-here")
    runner.request("GET", "/users", auth=False)
    after = runner.local("status")["api_responses"]
    assert after.get("404", 0) - before.get("404", 0) == 1
    assert after.get("401", 0) - before.get("401", 0) == 1


def test_cors_preflight_and_response_headers(runner: Runner) -> None:
    preflight = runner.request("OPTIONS", "/users", auth=False, headers={"Origin": "http://127.0.0.1:3000"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"
    assert "Idempotency-Key" in preflight.headers["Access-Control-Allow-Headers"]
    assert set(preflight.headers["Access-Control-Allow-Methods"].split(",")) == {"GET", "POST", "OPTIONS"}
    reply = runner.request("GET", "/users", headers={"Origin": "http://localhost:3000"})
    assert reply.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    denied = runner.request("GET", "/users", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in denied.headers


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:3000"])
def test_every_answer_carries_cors_for_each_configured_origin_gateway_answers_included(runner: Runner, origin: str) -> None:
    answers = {
        "function 201": runner.request("POST", "/users", new_user("cors"), headers={"Origin": origin}),
        "function 404": runner.request("GET", f"/users/{uuid.uuid4()}", headers={"Origin": origin}),
        "gateway 401": runner.request("GET", "/users", auth=False, headers={"Origin": origin}),
        "gateway 404": runner.request("GET", "/nowhere", headers={"Origin": origin}),
        "gateway 400": runner.request("POST", "/users", {"name": "No email"}, headers={"Origin": origin}),
    }
    for what, reply in answers.items():
        assert reply.headers["Access-Control-Allow-Origin"] == origin, what
        exposed = {h.strip().lower() for h in reply.headers["Access-Control-Expose-Headers"].split(",")}
        assert {"location", "retry-after"} <= exposed, what


def test_another_stage_runs_from_its_own_template_and_config(synth, launch: Callable[..., Runner]) -> None:
    """`make run STAGE=staging` serves staging's stack: its CORS origins (not dev's), its machine
    clients, the same API."""
    staging = launch("--stage", "staging")
    assert staging.local("status")["stack"] == "archon-staging-us-east-1"
    origin = synth.stages["staging"].api.cors_origins[0]
    created = staging.request("POST", "/users", new_user("staging"), headers={"Origin": origin})
    assert created.status == 201 and created.headers["Access-Control-Allow-Origin"] == origin
    dev_origin = staging.request("GET", "/users", headers={"Origin": "http://localhost:3000"})
    assert dev_origin.status == 200 and "Access-Control-Allow-Origin" not in dev_origin.headers
    assert staging.request("GET", created.headers["Location"]).json() == created.json()
    clients = staging.local("clients")
    assert sorted(c["name"] for c in clients["clients"]) == sorted(f"archon-staging-{c.name}" for c in synth.stages["staging"].clients)


def test_location_leads_to_the_user_and_the_last_page_has_no_cursor(runner: Runner) -> None:
    created = runner.request("POST", "/users", new_user("loc"))
    assert runner.request("GET", created.headers["Location"]).json() == created.json()
    last = runner.request("GET", "/users?limit=100")
    while "next_cursor" in last.json():
        last = runner.request("GET", f"/users?limit=100&cursor={last.json()['next_cursor']}")
    assert "next_cursor" not in last.json() and b"null" not in last.body


def test_each_new_user_gets_exactly_one_welcome_email(runner: Runner) -> None:
    users = [new_user("welcome") for _ in range(3)]
    for user in users:
        assert runner.request("POST", "/users", user).status == 201
    # The template's batching window is 5 s: the email comes within a few seconds.
    delivered = runner.wait_for(lambda: all(emails_to(runner, u["email"]) for u in users), timeout=30)
    assert delivered, json.dumps([runner.local("status"), runner.local("queues")])
    for user in users:
        [email] = emails_to(runner, user["email"])
        assert email["subject"] == "Welcome to Archon"
    assert runner.local("queues")["notifications-dev-dlq"]["visible"] == 0
    assert runner.local("status")["emails_sent"] == len(runner.local("outbox")["emails"])


def test_token_command_prints_one_line(runner: Runner) -> None:
    import subprocess
    import sys

    from tools.runner_client import ROOT, runner_env

    out = subprocess.run([sys.executable, "-m", "local_runner", "token", "--url", runner.url], cwd=ROOT, env=runner_env(),
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert out.count("\n") == 1 and out.count(".") == 2  # one JWT, one line
    assert runner.request("GET", "/users", headers={"Authorization": out.strip()}).status == 200


@pytest.fixture(scope="module")
def faulty(launch: Callable[..., Runner]) -> Runner:
    """A runner whose processor crashes once and whose API fails once, with quick redelivery."""
    return launch("--fault", "processor.crash=1", "--fault", "api.crash=1", "--fault-limit", "1",
                  "--batching-window", "0.2", "--redelivery-seconds", "1")


def test_a_processor_crash_still_gives_exactly_one_email(faulty: Runner) -> None:
    user = new_user("crash")
    assert_error(faulty.request("POST", "/users", user), 500, "internal_error")  # the API's one injected failure
    assert faulty.request("POST", "/users", user).status == 201
    assert faulty.wait_for(lambda: emails_to(faulty, user["email"]), timeout=30)
    status = faulty.local("status")
    assert status["faults_fired"]["processor.crash"] == 1
    assert status["event_sources"]["archon-notifications-dev"]["failed_invocations"] == 1
    faulty.wait_for(lambda: False, timeout=2)  # a late duplicate would arrive in this time
    assert len(emails_to(faulty, user["email"])) == 1


def test_a_handler_error_is_a_500_with_the_request_id_and_serving_goes_on(launch: Callable[..., Runner]) -> None:
    runner = launch("--fault", "api.crash=1", "--fault-limit", "1")
    body = assert_error(runner.request("GET", "/users"), 500, "internal_error")
    assert "injected" not in str(body)  # no internals in the error
    assert runner.request("GET", "/users").status == 200


def test_a_poison_message_reaches_the_dead_letter_queue(launch: Callable[..., Runner]) -> None:
    runner = launch("--fault", "ses.reject=1", "--batching-window", "0", "--redelivery-seconds", "0")
    user = new_user("poison")
    assert runner.request("POST", "/users", user).status == 201
    assert runner.wait_for(lambda: runner.local("queues")["notifications-dev-dlq"]["visible"] == 1, timeout=30)
    queues = runner.local("queues")
    assert queues["notifications-dev"] == {"visible": 0, "in_flight": 0}
    assert emails_to(runner, user["email"]) == []
    # maxReceiveCount is 5 in the template: five deliveries, then the redrive.
    assert runner.local("status")["event_sources"]["archon-notifications-dev"]["invocations"] == 5
    # The runbook's redrive, the cause not fixed: back to the queue, five more deliveries, back to the DLQ.
    moved = runner.request("POST", "/_local/redrive")
    assert moved.status == 200 and moved.json() == {"moved": {"notifications-dev-dlq": 1}}  # the Pipe's DLQ is no queue's redrive target
    assert runner.wait_for(lambda: runner.local("status")["event_sources"]["archon-notifications-dev"]["invocations"] == 10
                           and runner.local("queues")["notifications-dev-dlq"]["visible"] == 1, timeout=30)
    assert json.loads(runner.local("dead-letters")["notifications-dev-dlq"][0])["email"] == user["email"]


def test_under_a_sustained_load_the_api_comes_first_and_every_email_follows(runner: Runner) -> None:
    """Locally the pollers share one interpreter with the API, so they wait for gaps in the
    traffic (at most a second at a time); no message may be lost on the way."""
    import threading
    import time

    from local_runner.pipe import POLL_SECONDS
    from local_runner.turns import MAX_WAIT_SECONDS

    users = [new_user("load") for _ in range(60)]
    # The load lasts past a poll and a poller's longest wait however fast the machine is: on a
    # fast one, 60 creates took less than one poll interval and no poller ever had to wait.
    load_until = time.monotonic() + 2 * (POLL_SECONDS + MAX_WAIT_SECONDS)
    busy = threading.Event()

    def keep_the_api_busy() -> None:
        while not busy.is_set():
            runner.request("GET", "/users?limit=1")

    readers = [threading.Thread(target=keep_the_api_busy, daemon=True) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for user in users:
            assert runner.request("POST", "/users", user).status == 201
        while time.monotonic() < load_until:
            time.sleep(0.05)
    finally:
        busy.set()
        for reader in readers:
            reader.join(timeout=30)
    assert runner.local("status")["poller_turns_deferred"] > 0  # the pollers gave way to the API
    delivered = runner.wait_for(lambda: all(emails_to(runner, u["email"]) for u in users), timeout=120, interval=0.5)
    assert delivered, json.dumps([runner.local("status"), runner.local("queues")])
    assert all(len(emails_to(runner, u["email"])) == 1 for u in users)


@pytest.mark.slow
def test_server_backend_shares_state_with_other_processes(launch: Callable[..., Runner]) -> None:
    runner = launch("--backend", "server", "--moto-port", "0")
    endpoint = runner.local("status")["endpoint_url"]
    assert endpoint and endpoint.startswith("http://127.0.0.1:")
    created = runner.request("POST", "/users", {"name": "Shared", "email": "shared@example.com"}).json()
    # Another client, as the AWS CLI would be, sees the same table through the moto server.
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    item = dynamodb.get_item(TableName="users-dev", Key={contract.PARTITION_KEY: {"S": f"{contract.USER_PREFIX}{created['user_id']}"}})["Item"]
    assert item["email"]["S"] == "shared@example.com"
    # The README's AWS CLI line, as written but for the port, answers from the same state.
    [line] = re.findall(r"`(AWS_ACCESS_KEY_ID=\S+ .*aws --endpoint-url http://127.0.0.1:5000 dynamodb scan [^`]*)`",
                        (ROOT / "README.md").read_text())
    cli = subprocess.run(["bash", "-c", line.replace("http://127.0.0.1:5000", endpoint)], capture_output=True, text=True, timeout=60,
                         env={"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "HOME": tempfile.mkdtemp()})
    assert cli.returncode == 0 and "shared@example.com" in cli.stdout, cli.stderr
    assert any(endpoint in start and "AWS_DEFAULT_REGION=us-east-1" in start for start in runner.start_lines), runner.start_lines
    assert any("gone when it stops" in start for start in runner.start_lines)
    assert runner.wait_for(lambda: runner.local("outbox")["emails"], timeout=30)
    # The console stays a line per API request: not one per call the pollers make to moto's server.
    assert "werkzeug" not in runner.stderr.read_text()
