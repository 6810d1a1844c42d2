"""ruff and mypy over every package, in make test as in CI's lint step: the CDK app, the
functions' code, the local runner, the synth review, the migrations, the benchmarks, the tools,
the scripts and the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_app.config import ROOT

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
PACKAGES = ["cdk_app", "lambda_src", "local_runner", "migrations", "synth_review", "cloud_assembly", "tools", "scripts"]


def test_ruff_finds_nothing() -> None:
    result = subprocess.run([str(BIN / "ruff"), "check", *PACKAGES, "bench", "tests"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_checks_every_package() -> None:
    result = subprocess.run([str(BIN / "mypy"), *PACKAGES], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # The benchmark scripts find their modules beside them, a path of their own (mypy.ini).
    bench = subprocess.run([str(BIN / "mypy"), "bench"], cwd=ROOT, capture_output=True, text=True, env={**os.environ, "MYPYPATH": "bench"})
    assert bench.returncode == 0, bench.stdout + bench.stderr
