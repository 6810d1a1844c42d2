"""The CDK CLI as users run it (`npx cdk`, as the README says): with -c stage=X it synthesises
that stage's stacks only, and deploy and diff act on those; it runs on a supported Node, and every
stack name and output the README gives exists."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from cdk_app.config import CONFIG_FILE, ROOT
from tools.shell_env import unmeasured_env

pytestmark = pytest.mark.slow


def npx_cdk(*args: str, output: Path | None = None) -> subprocess.Popen[str]:
    """Starts npx cdk from a shell whose PATH has only the machine's own tools (its Node may be old),
    synthesising into `output` (a temporary folder) so that the project's cdk.out stays as it is."""
    import tempfile

    env = {k: v for k, v in unmeasured_env().items() if not k.startswith(("AWS_", "CDK_"))}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    out = output or Path(tempfile.mkdtemp(prefix="cdk-cli-"))
    return subprocess.Popen(["npx", "cdk", *args, "--output", str(out)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def listed(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return [line.split(" ")[0] for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def per_account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped config made per-account, as the README recommends: prod in an account of its own."""
    config = yaml.safe_load(CONFIG_FILE.read_text())
    for stage, account in (("dev", "111111111111"), ("staging", "111111111111"), ("prod", "222222222222")):
        config["stages"][stage]["account"] = account
    config["stages"]["prod"].pop("shares_account")
    path = tmp_path_factory.mktemp("per-account") / "stages.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def cli(synth, per_account: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every command these tests run. `cdk ls` of the shipped config lists the session's assembly,
    which `cdk synth` of that config made (tests/conftest.py), beside one synth of a single stage;
    deploy and diff then act on that stage's assembly (`--app <assembly>`), as they would right
    after synthesising it, without a synth of their own."""
    staging = tmp_path_factory.mktemp("staging.out")
    synths = {
        "ls": npx_cdk("ls", "--app", str(synth.outdir), output=synth.outdir),
        "ls staging": npx_cdk("ls", "-c", "stage=staging", "-c", f"config={per_account}", output=staging),
    }
    done = {name: _finish(process) for name, process in synths.items()}
    on_staging = {
        "deploy staging": npx_cdk("deploy", "--app", str(staging), output=staging),
        "diff staging": npx_cdk("diff", "--app", str(staging), output=staging),
    }
    return {**done, **{name: _finish(process) for name, process in on_staging.items()}}


def _finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    stdout, stderr = process.communicate(timeout=900)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_cdk_ls_lists_every_stage_region_and_the_deploy_identity(cli) -> None:
    assert listed(cli["ls"]) == ["dev-us-east-1", "staging-us-east-1", "staging-eu-west-1", "prod-us-east-1",
                                 "prod-eu-west-1", "archon-deploy-identity-dev-staging-prod"]


def test_npx_cdk_runs_on_a_supported_node(cli) -> None:
    assert "end-of-life" not in cli["ls staging"].stderr + cli["ls staging"].stdout
    version = subprocess.run(["npx", "node", "--version"], cwd=ROOT, env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")},
                             capture_output=True, text=True, timeout=60).stdout
    assert version.startswith(("v22.", "v24.")), version


def test_a_stage_selects_its_own_stacks_primary_first(cli) -> None:
    assert listed(cli["ls staging"]) == ["staging-us-east-1", "staging-eu-west-1"]


def test_deploy_of_a_multi_region_stage_without_a_name_stops_and_names_its_stacks(cli) -> None:
    result = cli["deploy staging"]
    assert result.returncode != 0
    assert "specify which stacks to use" in result.stderr and "staging-us-east-1" in result.stderr


def test_diff_of_a_stage_never_reports_zero_differences_having_compared_nothing(cli) -> None:
    """Without AWS credentials it cannot fetch the deployed templates and says so, naming the
    stage's account; with them it compares the stage's stacks (the default selection is the
    top-level stacks, which they are)."""
    result = cli["diff staging"]
    assert "Number of stacks with differences: 0" not in result.stdout + result.stderr
    assert result.returncode != 0
    assert "Need to perform AWS calls for account 111111111111, but no credentials have been configured" in result.stderr


def test_every_stack_and_output_the_readme_names_exists(cli, synth, per_account: Path) -> None:
    """Stack names from `cdk ls` of the shipped config and from the per-account app the README
    recommends (built in this process: its stacks' names need no synth)."""
    import aws_cdk as cdk

    from cdk_app.app import build_app
    from tests.conftest import cdk_context, untraced

    app = cdk.App(context=cdk_context())
    with untraced():
        build_app(app, config_file=per_account)
    readme = (ROOT / "README.md").read_text()
    names = set(re.findall(r"npx cdk deploy ([a-z][a-z0-9-]+)", readme))
    stacks = set(listed(cli["ls"])) | {c.node.id for c in app.node.children if isinstance(c, cdk.Stack)}
    assert names and names <= stacks, sorted(names - stacks)
    outputs = set(re.findall(r"output `([A-Za-z]+)`", readme)) | set(re.findall(r"\bout ([A-Za-z]+)\)", readme))
    templates = [json.loads(p.read_text()) for p in synth.outdir.glob("*.template.json")]
    synthesised = {k for t in templates for k in t.get("Outputs", {})}
    assert outputs and outputs <= synthesised, sorted(outputs - synthesised)
