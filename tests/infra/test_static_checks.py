"""cfn-lint and checkov over every synthesised template. Skips: .cfnlintrc.yaml and
checkov-cloudformation.yaml, each with its reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cdk_app.config import ROOT
from tools.shell_env import unmeasured_env

CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"


def _templates(outdir: Path) -> list[str]:
    found = sorted(str(p) for p in outdir.rglob("*.template.json"))
    assert found
    return found


def assert_cfn_lint_passes(templates: list[str]) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), *templates], cwd=ROOT, env=unmeasured_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def assert_checkov_passes(templates: list[str]) -> None:
    if not CHECKOV.exists():
        pytest.fail("checkov is not installed: run `make setup` (it builds .tools/checkov)")
    args = [str(CHECKOV), "--config-file", str(ROOT / "checkov-cloudformation.yaml")]
    for template in templates:
        args += ["-f", template]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert "Failed checks: 0" in result.stdout and result.returncode == 0, result.stdout[-5000:]
    assert "Passed checks:" in result.stdout


@pytest.mark.slow
def test_cfn_lint_passes_on_every_template(synth):
    assert_cfn_lint_passes(_templates(synth.outdir))


@pytest.mark.slow
def test_checkov_passes_on_every_template(synth):
    assert_checkov_passes(_templates(synth.outdir))
