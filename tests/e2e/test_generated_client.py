"""The contract as a real client sees it: openapi-python-client (pinned in
tools/requirements-openapi-client.txt) generates a client from docs/openapi.json, and that
client drives create, read, list with paging, idempotency, Location and every error it can
provoke against the local runner (tools/generated_client_driver.py)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from tools.runner_client import ROOT, Runner
from users import contract

pytestmark = pytest.mark.slow
TOOL = ROOT / ".tools" / "openapi-client" / "bin"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (TOOL / "openapi-python-client").exists():
        pytest.fail("the client generator is not installed: run `make setup` (it builds .tools/openapi-client)")
    out = tmp_path_factory.mktemp("generated")
    result = subprocess.run([str(TOOL / "openapi-python-client"), "generate", "--path", str(ROOT / "docs" / "openapi.json"),
                             "--meta", "none", "--output-path", str(out / "archon_client")],
                            cwd=out, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PATH": f"{TOOL}:{os.environ['PATH']}"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr  # nothing skipped
    return out


@pytest.fixture(scope="module")
def seen(generated: Path, runner: Runner, launch: Callable[..., Runner]) -> dict[str, Any]:
    read_only = runner.request("POST", "/_local/token", {"scopes": [contract.READ_SCOPE]}, auth=False).json()["token"]
    limited = launch("--creates-per-caller", "2")
    result = subprocess.run([str(TOOL / "python"), str(ROOT / "tools" / "generated_client_driver.py"),
                             runner.url, runner.token, read_only, limited.url, limited.token],
                            env={**os.environ, "PYTHONPATH": str(generated)}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_the_generated_client_creates_and_reads_back_typed_users(seen: dict[str, Any]) -> None:
    assert seen["create"]["status"] == 201
    assert seen["create"]["user_id_is_uuid"] and seen["create"]["created_at_is_datetime"]
    assert seen["create"]["location"].startswith("/users/")
    assert seen["read"] == {"same": True, "location_leads_to_the_user": True}


def test_the_generated_client_pages_through_every_user_once(seen: dict[str, Any]) -> None:
    assert seen["list"]["pages"] >= 3 and seen["list"]["mine_in_order"] and seen["list"]["no_repeats"]


def test_the_generated_client_retries_safely_with_an_idempotency_key(seen: dict[str, Any]) -> None:
    assert seen["idempotency"]["same_user"]
    assert seen["idempotency"]["reused"]["status"] == 422 and seen["idempotency"]["reused"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("case, status, code", [
    ("bad_email", 400, "validation_error"),
    ("taken", 409, "email_taken"),
    ("unknown_user", 404, "not_found"),
    ("bad_cursor", 400, "invalid_cursor"),
    ("limit_out_of_range", 400, "validation_error"),
    ("no_token", 401, "unauthorized"),
    ("read_only_creates", 403, "forbidden"),
    ("rate_limited", 429, "rate_limited"),
])
def test_every_error_parses_as_the_contracts_error_body(seen: dict[str, Any], case: str, status: int, code: str) -> None:
    error = seen["errors"][case]
    assert (error["status"], error["code"]) == (status, code)
    assert error["request_id"]
    if case in ("bad_email", "limit_out_of_range"):
        assert error["details"] and any(d["field"] in ("email", "limit") or "email" in d["issue"] for d in error["details"])
    if case == "rate_limited":
        assert int(error["retry_after"]) >= 1
