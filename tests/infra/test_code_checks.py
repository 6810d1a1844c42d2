"""ruff and mypy over every package, in make test as in CI's lint step: the CDK app, the
functions' code, the local runner, the synth review, the migrations, the benchmarks, the tools,
the scripts and the tests."""

from __future__ import annotations

import ast
import configparser
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_app.config import ROOT
from tools.shell_env import unmeasured_env

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
PACKAGES = ["cdk_app", "lambda_src", "local_runner", "migrations", "synth_review", "cloud_assembly", "tools", "scripts", "bench"]


def test_ruff_finds_nothing() -> None:
    result = subprocess.run([str(BIN / "ruff"), "check", *PACKAGES, "tests"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_checks_every_package() -> None:
    result = subprocess.run([str(BIN / "mypy"), *PACKAGES], cwd=ROOT, env=unmeasured_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_analyses_every_aws_cdk_module_the_code_imports() -> None:
    """mypy.ini skips aws_cdk's service modules but those it lists; one imported and not listed
    would be typed Any, its calls unchecked."""
    config = configparser.ConfigParser()
    config.read(ROOT / "mypy.ini")
    followed = {name.strip() for section in config.sections() if config[section].get("follow_imports") == "normal"
                for name in section.removeprefix("mypy-").split(",")}
    sources = [p for package in [*PACKAGES, "bench"] for p in (ROOT / package).rglob("*.py")] + [ROOT / "app.py"]
    imported = {module for path in sources for module in aws_cdk_modules(path.read_text())}
    assert "aws_cdk.aws_lambda" in imported  # the scan finds the imports
    assert imported <= followed, f"add to mypy.ini's follow_imports = normal section: {sorted(imported - followed)}"


def aws_cdk_modules(source: str) -> set[str]:
    """The aws_cdk modules a source file imports, however it spells the import."""
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names if alias.name.startswith("aws_cdk.")}
        elif isinstance(node, ast.ImportFrom) and node.module == "aws_cdk":
            # Submodules are the lower-case names; the root's classes and functions are not.
            modules |= {f"aws_cdk.{alias.name}" for alias in node.names if alias.name.islower()}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("aws_cdk."):
            modules.add(node.module)
    return {".".join(m.split(".")[:2]) for m in modules}
