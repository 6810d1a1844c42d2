"""`make e2e URL=...` as the deploy workflow runs it after a deploy, here against a local runner
with its e2e client's credentials: the whole API suite passes, nothing skipped."""

from __future__ import annotations

import subprocess

import pytest

from tools.runner_client import ROOT, Runner
from tools.shell_env import user_shell_env

pytestmark = pytest.mark.slow


def make_e2e(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in user_shell_env().items() if not k.startswith(("ARCHON_", "COVERAGE_", "PYTEST_"))}
    return subprocess.run(["make", "-s", "e2e", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=300)


def test_make_e2e_passes_against_a_runner_with_its_e2e_client(runner: Runner) -> None:
    (client,) = [c for c in runner.local("clients")["clients"] if c["name"].endswith("-e2e")]
    result = make_e2e(f"URL={runner.url}", env={
        "ARCHON_TOKEN_URL": f"{runner.url}/_local/oauth2/token", "ARCHON_CLIENT_ID": client["client_id"],
        "ARCHON_CLIENT_SECRET": client["client_secret"], "ARCHON_ALLOWED_ORIGIN": "http://localhost:3000"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary and "failed" not in summary, summary


def test_make_e2e_says_what_it_needs() -> None:
    no_url = make_e2e(env={})
    assert no_url.returncode == 2 and "usage: make e2e URL=" in no_url.stderr
    no_secret = make_e2e("URL=http://127.0.0.1:9", env={"ARCHON_TOKEN_URL": "http://127.0.0.1:9/token", "ARCHON_CLIENT_ID": "x"})
    assert no_secret.returncode == 2
    assert no_secret.stderr.splitlines()[0] == ("make e2e: set ARCHON_CLIENT_SECRET (README: Testing a deployed stage; "
                                                "scripts/e2e-credentials.sh prints them)")


def test_make_e2e_stops_with_one_line_for_a_url_that_cannot_work() -> None:
    credentials = {"ARCHON_CLIENT_ID": "x", "ARCHON_CLIENT_SECRET": "y"}
    not_a_url = make_e2e("URL=abc123.execute-api.us-east-1.amazonaws.com/prod", env={"ARCHON_TOKEN_URL": "http://127.0.0.1:9/token", **credentials})
    assert not_a_url.returncode == 2, not_a_url.stdout[-2000:]
    assert "make e2e: URL='abc123.execute-api.us-east-1.amazonaws.com/prod' is not a URL" in not_a_url.stdout + not_a_url.stderr
    unreachable = make_e2e("URL=http://127.0.0.1:9", env={"ARCHON_TOKEN_URL": "http://127.0.0.1:9/oauth2/token", **credentials})
    assert unreachable.returncode == 2, unreachable.stdout[-2000:]
    output = unreachable.stdout + unreachable.stderr
    assert "make e2e: ARCHON_TOKEN_URL='http://127.0.0.1:9/oauth2/token' cannot be reached" in output
    assert "failed" not in output and "Traceback" not in output
