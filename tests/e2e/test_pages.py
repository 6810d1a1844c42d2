"""The runner's pages in a real headless Chromium (tools/page_driver.mjs, playwright-core): the
API explorer authorises with the local pool's client and creates a user, the mailbox shows the
welcome email as its recipient reads it, and the redrive button moves a dead letter back.
Screenshots of each page stay in build/screenshots/ (CI keeps them as artifacts)."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any, Callable

import pytest

from tools.runner_client import ROOT, Runner

pytestmark = pytest.mark.slow

SHOTS = ROOT / "build" / "screenshots"
NODE = ROOT / ".tools" / "node" / "bin" / "node"


@pytest.fixture(scope="module")
def chromium() -> str:
    found = subprocess.run(["bash", str(ROOT / "scripts" / "ensure-chromium.sh")], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


def drive(chromium: str, *args: str) -> dict[str, Any]:
    result = subprocess.run([str(NODE), str(ROOT / "tools" / "page_driver.mjs"), *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=180, env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT / "build"), "CHROMIUM": chromium})
    assert result.returncode == 0, result.stderr[-3000:]
    seen: dict[str, Any] = json.loads(result.stdout)
    assert "error" not in seen, seen
    assert seen["console_errors"] == [] and seen["dialogs"] == [], seen
    return seen


def test_the_explorer_creates_a_user_whose_welcome_email_the_mailbox_shows(runner: Runner, chromium: str) -> None:
    email, name = f"browser-{uuid.uuid4().hex[:8]}@example.com", "Ada <img src=x onerror=alert(1)>"
    seen = drive(chromium, "explorer", runner.url, str(SHOTS), email, name)
    assert seen["title"] == "Archon users API"
    assert seen["operations"] == ["listUsers", "createUser", "getUser"]
    assert seen["client_id_filled"] and seen["authorised"]
    assert seen["create_status"] == "201"
    created = json.loads(seen["create_body"])
    assert created["email"] == email and created["name"] == name
    # As the recipient reads it: sender, subject and Archon's own text, which holds nothing the caller
    # wrote (not the name) and no markup.
    assert seen["email"]["from"] == "welcome@archon.example.com" and seen["email"]["to"] == email
    assert seen["email"]["subject"] == "Welcome to Archon"
    assert seen["email"]["body"].startswith("Hello,") and name not in seen["email"]["body"]
    assert seen["email"]["elements_in_body"] == 0
    assert seen["queues"]["notifications-dev-dlq"] == [0, 0]
    assert (SHOTS / "api-explorer.png").stat().st_size > 10_000 and (SHOTS / "mailbox.png").stat().st_size > 10_000


def test_the_mailbox_shows_a_dead_letter_and_redrives_it(launch: Callable[..., Runner], chromium: str) -> None:
    runner = launch("--fault", "ses.reject=1", "--batching-window", "0", "--redelivery-seconds", "0")
    assert runner.request("POST", "/users", {"name": "Bounced", "email": f"dead-{uuid.uuid4().hex[:8]}@example.com"}).status == 201
    assert runner.wait_for(lambda: runner.local("queues")["notifications-dev-dlq"]["visible"] == 1, timeout=30)
    seen = drive(chromium, "redrive", runner.url, str(SHOTS))
    assert seen["dead_letters_shown"] == 1 and seen["empty_shown"]
    assert seen["redrive_result"] == "1 message(s) moved back to their queues"
    assert (SHOTS / "mailbox-dead-letter.png").is_file()


def test_pages_carry_a_strict_content_security_policy(runner: Runner) -> None:
    for page in ("/_local/docs/", "/_local/mailbox/", "/_local/docs/swagger-ui-bundle.js"):
        reply = runner.request("GET", page, auth=False)
        assert reply.status == 200, page
        assert "script-src 'self';" in reply.headers["Content-Security-Policy"] and reply.headers["X-Content-Type-Options"] == "nosniff"
    document = runner.request("GET", "/_local/openapi.json", auth=False).json()
    assert document["servers"] == [{"url": runner.url, "description": "this local run (make run)"}]
    assert document["components"]["securitySchemes"]["cognito"]["flows"]["clientCredentials"]["tokenUrl"] == f"{runner.url}/_local/oauth2/token"


def test_local_posts_from_another_sites_page_are_refused(runner: Runner) -> None:
    for path in ("/_local/redrive", "/_local/token"):
        forged = runner.request("POST", path, auth=False, headers={"Origin": "https://attacker.example"})
        assert forged.status == 403 and "Origin must match Host" in forged.json()["message"], path
    assert runner.request("POST", "/_local/redrive", auth=False, headers={"Origin": runner.url}).status == 200
