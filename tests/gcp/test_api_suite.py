"""The black-box API suite (tests/api), unchanged, against the service on GCP's emulators: the
same requests and assertions it makes of a deployed AWS stage (make e2e)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cdk_app.config import ROOT
from tools.runner_client import Runner, runner_env

pytestmark = pytest.mark.slow


def test_the_api_suite_passes_unchanged_on_gcp(gcp_runner: Runner) -> None:
    (client,) = [c for c in gcp_runner.local("clients")["clients"] if c["name"].endswith("-e2e")]
    env = {**runner_env(), "ARCHON_API_URL": gcp_runner.url, "ARCHON_TOKEN_URL": f"{gcp_runner.url}/_local/oauth2/token",
           "ARCHON_CLIENT_ID": client["client_id"], "ARCHON_CLIENT_SECRET": client["client_secret"],
           "ARCHON_ALLOWED_ORIGIN": "http://localhost:3000"}
    env.pop("COVERAGE_PROCESS_START", None)  # the suite is HTTP only: nothing of ours runs in it
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--confcutdir=tests/api",
                             "-o", "addopts=-ra", "tests/api"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-2000:]
    assert os.environ.get("ARCHON_API_URL") is None  # this test's own process was never pointed elsewhere
