"""`make e2e URL=...` as the deploy workflow runs it after a deploy, here against a local runner
with its e2e client's credentials: the whole API suite passes, nothing skipped. The credentials
come from the workflow's own step, scripts/e2e-credentials.sh, with the output names of the
local template and a stand-in `aws` for the two AWS calls it makes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cloud_assembly import stacks as assembly_stacks
from tests.conftest import Synthesised

from tools.runner_client import ROOT, Runner
from tools.shell_env import user_shell_env

pytestmark = pytest.mark.slow


def make_e2e(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in user_shell_env().items() if not k.startswith(("ARCHON_", "COVERAGE_", "PYTEST_"))}
    return subprocess.run(["make", "-s", "e2e", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=300)


# A stand-in for the AWS CLI: `cloudformation describe-stacks` with the workflow's --query answers
# from the stack's outputs, `secretsmanager get-secret-value` from the secrets; both given as JSON.
STAND_IN = """#!{python}
import json, re, sys
state = json.load(open({state!r}))
args = sys.argv[1:]
if args[:2] == ["cloudformation", "describe-stacks"]:
    stack = args[args.index("--stack-name") + 1]
    key = re.search(r"OutputKey=='([^']+)'", args[args.index("--query") + 1]).group(1)
    print(state["outputs"].get(stack, {{}}).get(key, "None"))
elif args[:2] == ["secretsmanager", "get-secret-value"]:
    print(state["secrets"][args[args.index("--secret-id") + 1]])
else:
    sys.exit(f"stand-in aws: {{args[:2]}} is not a call the deploy workflow makes")
"""


def test_the_deploy_workflows_credentials_step_and_make_e2e_pass_against_a_runner(runner: Runner, synth: Synthesised,
                                                                                   tmp_path: Path) -> None:
    (client,) = [c for c in runner.local("clients")["clients"] if c["name"].endswith("-e2e")]
    [template] = [s.template for s in assembly_stacks(synth.outdir) if s.artifact_id == "dev-us-east-1"]
    local = {"ApiUrl": runner.url + "/", "TokenUrl": f"{runner.url}/_local/oauth2/token", "ClientIdE2e": client["client_id"],
             "E2eClientSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:archon/dev/us-east-1/e2e-client-AbCdEf"}
    # Only the outputs the local template has get a value: a name the template lacks reads None, as on AWS.
    outputs = {name: local[name] for name in template["Outputs"] if name in local}
    state = tmp_path / "aws.json"
    state.write_text(json.dumps({"outputs": {"archon-dev-us-east-1": outputs},
                                 "secrets": {local["E2eClientSecretArn"]: client["client_secret"]}}))
    (tmp_path / "bin").mkdir()
    aws = tmp_path / "bin" / "aws"
    aws.write_text(STAND_IN.format(python=sys.executable, state=str(state)))
    aws.chmod(0o755)
    clean = {k: v for k, v in user_shell_env().items() if not k.startswith(("ARCHON_", "COVERAGE_", "PYTEST_", "GITHUB_"))}
    shell = {**clean, "PATH": f"{aws.parent}{os.pathsep}{clean['PATH']}"}
    printed = subprocess.run(["bash", "scripts/e2e-credentials.sh", "archon-dev-us-east-1", "us-east-1"], cwd=ROOT, env=shell,
                             capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    exported = subprocess.run(["bash", "-c", printed.stdout + "env"], capture_output=True, text=True, env=shell, timeout=30)
    env = dict(line.split("=", 1) for line in exported.stdout.splitlines() if line.startswith("ARCHON_"))
    assert env["ARCHON_CLIENT_SECRET"] == client["client_secret"] and env["ARCHON_API_URL"] == runner.url + "/"
    result = make_e2e(f"URL={env['ARCHON_API_URL']}", env={**env, "ARCHON_ALLOWED_ORIGIN": "http://localhost:3000"})
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
