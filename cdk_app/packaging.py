"""How the functions' code reaches Lambda, without Docker.

The code is lambda_src/ as it is, with its bytecode for the runtime's Python where that Python is
at hand; its dependencies are a layer built by `make layer` from the pinned
lambda_src/requirements.txt as arm64 wheels for the runtime's Python (their bytecode likewise).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_app.config import ROOT, ConfigError
from cdk_app.defaults import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME

LAMBDA_SRC = ROOT / "lambda_src"
LAYER_DIR = ROOT / "build" / "layer"
LAYER_STAMP = ROOT / "build" / "layer.stamp"
FUNCTION_CODE_DIR = ROOT / "build" / "function-code"
RUNTIME_PYTHON = LAMBDA_RUNTIME.name.removeprefix("python")  # "3.14"
NOT_SHIPPED = ["requirements*", "**/__pycache__", "**/*.pyc", ".*"]


def function_code() -> lambda_.Code:
    """/var/task is read-only on Lambda: code without bytecode is compiled at every cold start."""
    python = runtime_python()
    if python is None:
        return lambda_.Code.from_asset(str(LAMBDA_SRC), exclude=NOT_SHIPPED)
    if (actual := _version(python)) != RUNTIME_PYTHON:
        raise ConfigError(f"{python} is Python {actual}, not {RUNTIME_PYTHON}: Lambda's Python {RUNTIME_PYTHON} would ignore "
                          f"its bytecode; set LAMBDA_PYTHON_BIN to a Python {RUNTIME_PYTHON}, or unset it")
    staged, digest = compiled_code(python)
    # The hash is the sources' (and the Python's), not the bytecode's, which need not be
    # byte-for-byte repeatable: an unchanged function is not redeployed.
    return lambda_.Code.from_asset(str(staged), exclude=[".*"], asset_hash_type=cdk.AssetHashType.CUSTOM,
                                   asset_hash=f"{digest}-bytecode-{RUNTIME_PYTHON}")


def runtime_python() -> str | None:
    """Lambda's Python, as `make layer` finds it: LAMBDA_PYTHON_BIN, else python3.14 on PATH."""
    return os.environ.get("LAMBDA_PYTHON_BIN") or shutil.which(f"python{RUNTIME_PYTHON}")


@functools.cache
def _version(python: str) -> str:
    try:
        out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "not runnable"
    return out.stdout.strip()


@functools.cache
def compiled_code(python: str) -> tuple[Path, str]:
    """lambda_src's shipped files with unchecked-hash bytecode beside them (the code never changes
    in place on Lambda), staged once per version of the sources under build/function-code/."""
    files = sorted(p for p in LAMBDA_SRC.rglob("*") if p.is_file() and _shipped(p.relative_to(LAMBDA_SRC)))
    sha = hashlib.sha256()
    for path in files:
        sha.update(str(path.relative_to(LAMBDA_SRC)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest = sha.hexdigest()
    staged = FUNCTION_CODE_DIR / digest[:16]
    if not staged.exists():
        FUNCTION_CODE_DIR.mkdir(parents=True, exist_ok=True)
        # Built aside and renamed into place: synths running side by side never see half of it.
        building = Path(tempfile.mkdtemp(prefix=".staging-", dir=FUNCTION_CODE_DIR))
        for path in files:
            target = building / path.relative_to(LAMBDA_SRC)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}  # beside the sources, where Lambda looks
        result = subprocess.run([python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(building)],
                                env=env, capture_output=True, text=True)
        if result.returncode:
            shutil.rmtree(building, ignore_errors=True)
            raise ConfigError(f"compiling the functions' code with {python} failed: {(result.stdout + result.stderr).strip()[-500:]}")
        try:
            building.rename(staged)
        except OSError:  # another synth placed the same sources first
            shutil.rmtree(building, ignore_errors=True)
    for old in FUNCTION_CODE_DIR.iterdir():  # earlier versions of the sources
        if old != staged and not old.name.startswith(".staging-"):
            shutil.rmtree(old, ignore_errors=True)
    return staged, digest


def _shipped(relative: Path) -> bool:
    """NOT_SHIPPED's rule for one path of lambda_src (CDK takes the globs, the staged copy this)."""
    return not (relative.name.startswith("requirements") or relative.suffix == ".pyc"
                or any(part == "__pycache__" or part.startswith(".") for part in relative.parts))


def dependencies_layer(scope: Construct, id: str) -> lambda_.LayerVersion:
    if not LAYER_STAMP.exists():
        raise ConfigError("build/layer: the functions' dependency layer is not built; run `make layer` (or `make synth`)")
    return lambda_.LayerVersion(
        scope,
        id,
        code=lambda_.Code.from_asset(str(LAYER_DIR)),
        compatible_runtimes=[LAMBDA_RUNTIME],
        compatible_architectures=[LAMBDA_ARCHITECTURE],
        description="Pinned runtime dependencies of the users service (lambda_src/requirements.txt)",
    )
