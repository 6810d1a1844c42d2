"""The guarantees on GCP, through the API and the emulators: one user per mailbox however the
creates race and spell it, idempotent creates, and exactly one welcome email per user through
the Firestore trigger, the relay, Pub/Sub's at-least-once push and the dead-letter topic."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tools.runner_client import Runner

pytestmark = pytest.mark.slow


def _create(runner: Runner, email: str, headers: dict[str, str] | None = None) -> Any:
    return runner.request("POST", "/users", {"name": "Racer", "email": email}, headers=headers)


def test_racing_creates_of_one_mailbox_in_mixed_spellings_give_one_user(gcp_runner: Runner) -> None:
    local = f"race-{uuid.uuid4().hex[:8]}"
    spellings = [f"{local}@example.com", f"{local.upper()}@EXAMPLE.COM", f"{local}@Example.Com", f"{local.capitalize()}@example.COM"] * 3
    with ThreadPoolExecutor(max_workers=len(spellings)) as pool:
        replies = list(pool.map(lambda email: _create(gcp_runner, email), spellings))
    statuses = sorted(r.status for r in replies)
    assert statuses == [201] + [409] * (len(spellings) - 1), [r.body[:200] for r in replies]
    assert all(r.json()["error"]["code"] == "email_taken" for r in replies if r.status == 409)


def test_racing_retries_of_one_idempotency_key_create_one_user(gcp_runner: Runner) -> None:
    email, key = f"retry-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: _create(gcp_runner, email, {"Idempotency-Key": key}), range(8)))
    created = {r.json()["user_id"] for r in replies if r.status == 201}
    assert len(created) == 1, [(r.status, r.body[:200]) for r in replies]
    # Those that arrived while the first was running were told to retry, and a retry replays it.
    assert {r.status for r in replies} <= {201, 409}
    assert {r.json()["error"]["code"] for r in replies if r.status == 409} <= {"request_in_progress"}
    again = _create(gcp_runner, email, {"Idempotency-Key": key})
    assert again.status == 201 and again.json()["user_id"] in created


def _emails_to(runner: Runner, address: str) -> list[dict[str, Any]]:
    return [e for e in runner.local("outbox")["emails"] if address in e["to"]]


def test_each_user_gets_one_welcome_email(gcp_runner: Runner) -> None:
    addresses = [f"welcome-{uuid.uuid4().hex[:8]}@example.com" for _ in range(5)]
    for address in addresses:
        assert _create(gcp_runner, address).status == 201
    assert gcp_runner.wait_for(lambda: all(_emails_to(gcp_runner, a) for a in addresses), timeout=30)
    assert all(len(_emails_to(gcp_runner, a)) == 1 for a in addresses)
    assert "Racer" not in json.dumps(gcp_runner.local("outbox"))  # no caller text in the email


def test_a_redelivered_message_sends_nothing_twice(gcp_runner: Runner) -> None:
    """Pub/Sub delivers at least once: the same message again, as a redelivery would bring it."""
    address = f"twice-{uuid.uuid4().hex[:8]}@example.com"
    user = _create(gcp_runner, address).json()
    assert gcp_runner.wait_for(lambda: _emails_to(gcp_runner, address), timeout=30)
    message = {"type": "welcome_email", "user_id": user["user_id"], "email": address}
    published = gcp_runner.request("POST", "/_local/publish", message, auth=False)
    assert published.status == 200, published.body
    processed = gcp_runner.local("status")["functions"]["processor"]["invocations"]
    assert gcp_runner.wait_for(lambda: gcp_runner.local("status")["functions"]["processor"]["invocations"] > processed, timeout=30)
    assert len(_emails_to(gcp_runner, address)) == 1


def test_mail_provider_errors_dead_letter_after_five_deliveries_and_a_redrive_sends_once(gcp_runner: Runner) -> None:
    address = f"dead-{uuid.uuid4().hex[:8]}@example.com"
    assert gcp_runner.request("POST", "/_local/faults", {"mail": 1.0}, auth=False).status == 200
    try:
        user = _create(gcp_runner, address).json()
        dead = gcp_runner.wait_for(lambda: [m for bodies in gcp_runner.local("dead-letters").values() for m in bodies
                                            if user["user_id"] in m], timeout=60)
        assert dead, gcp_runner.local("status")
    finally:
        assert gcp_runner.request("POST", "/_local/faults", {"mail": 0}, auth=False).status == 200
    assert _emails_to(gcp_runner, address) == []
    moved = gcp_runner.request("POST", "/_local/redrive", auth=False).json()["moved"]
    assert sum(moved.values()) >= 1
    assert gcp_runner.wait_for(lambda: _emails_to(gcp_runner, address), timeout=30)
    assert len(_emails_to(gcp_runner, address)) == 1


def test_a_poison_message_is_acknowledged_not_retried(gcp_runner: Runner) -> None:
    failed = gcp_runner.local("status")["functions"]["processor"]
    assert gcp_runner.request("POST", "/_local/publish", {"type": "something_else"}, auth=False).status == 200
    assert gcp_runner.wait_for(lambda: gcp_runner.local("status")["functions"]["processor"]["invocations"] > failed["invocations"], timeout=30)
    assert gcp_runner.local("status")["functions"]["processor"]["failed_invocations"] == failed["failed_invocations"]
