"""The habits the field expects of a repository: pre-commit hooks that run the pinned tools,
Dependabot over every ecosystem that pins something, CodeQL on the Python code; each checked here
offline (the hooks run, the configs validate against their schemas)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from cdk_app.config import ROOT
from tools.shell_env import unmeasured_env

BIN = ROOT / ".venv" / "bin"
HOOKS = {"ruff", "mypy", "terraform-fmt", "actionlint", "github-config-schemas", "openapi-check"}


def _hooks() -> dict[str, dict]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}


def test_pre_commit_config_is_valid_and_every_hook_is_local():
    result = subprocess.run([str(BIN / "pre-commit"), "validate-config", ".pre-commit-config.yaml"], cwd=ROOT, env=unmeasured_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]  # nothing to download
    assert set(_hooks()) == HOOKS


@pytest.mark.slow
def test_the_hooks_pass_on_every_file(tmp_path: Path):
    # ruff and mypy run in tests/infra/test_code_checks.py already; the others run here, through pre-commit.
    env = {**unmeasured_env(), "PRE_COMMIT_HOME": str(tmp_path), "SKIP": "ruff,mypy", "PATH": f"{BIN}:{os.environ['PATH']}"}
    result = subprocess.run([str(BIN / "pre-commit"), "run", "--all-files"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("terraform fmt", "actionlint", "dependabot.yml and workflows", "docs/openapi.json describes the code"):
        assert any(line.startswith(name) and line.endswith("Passed") for line in result.stdout.splitlines()), (name, result.stdout)


def test_each_hook_runs_a_pinned_tool_that_make_setup_installs():
    for hook_id, hook in _hooks().items():
        tool = hook["entry"].split()[0]
        assert tool == "terraform" or (ROOT / tool).exists(), (hook_id, tool)


def _directory(path: Path) -> str:
    relative = path.relative_to(ROOT).as_posix()
    return "/" if relative == "." else f"/{relative}"


def test_dependabot_covers_every_pinned_ecosystem_and_directory():
    updates = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())["updates"]
    covered = {(u["package-ecosystem"], d) for u in updates for d in u.get("directories", [u.get("directory")])}
    locks = {_directory(p.parent) for p in ROOT.glob("**/requirements*.txt")
             if not any(part.startswith(".") or part in ("node_modules", "build") for part in p.relative_to(ROOT).parts)}
    assert {("pip", d) for d in locks} <= covered, locks
    assert ("npm", "/") in covered and ("github-actions", "/") in covered
    pinned_providers = {_directory(p.parent) for p in (ROOT / "terraform").glob("**/versions.tf")}
    assert {("terraform", d) for d in pinned_providers} <= covered, pinned_providers


def test_dependabot_and_the_workflows_match_their_schemas(tmp_path: Path):
    result = subprocess.run([str(BIN / "python"), "scripts/check_github_config.py"], cwd=ROOT, env=unmeasured_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    broken = tmp_path / "dependabot.yml"
    broken.write_text("version: 2\nupdates:\n  - package-ecosystem: pipx\n    directory: /\n    schedule: {interval: weekly}\n")
    rejected = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(broken)],
                              env=unmeasured_env(), capture_output=True, text=True)
    assert rejected.returncode == 1 and "pipx" in rejected.stdout


def test_codeql_analyses_the_python_code_with_least_privilege():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "codeql.yml").read_text())
    assert workflow["permissions"] == {"contents": "read"}
    job = workflow["jobs"]["analyze"]
    assert job["permissions"] == {"contents": "read", "security-events": "write"}
    init = next(s for s in job["steps"] if s.get("name") == "Initialize CodeQL")
    assert init["with"]["languages"] == "python" and init["with"]["queries"] == "security-and-quality"
