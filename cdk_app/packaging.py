"""How the functions' code reaches Lambda, without Docker.

The code is lambda_src/ as it is, with its bytecode for the runtime's Python where that Python is
at hand; its dependencies are a layer built by `make layer` from the pinned
lambda_src/requirements.txt as arm64 wheels for the runtime's Python (their bytecode likewise).
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import shutil
import tempfile
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_app import bytecode
from cdk_app.config import ROOT, ConfigError
from cdk_app.defaults import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME

LAMBDA_SRC = ROOT / "lambda_src"
LAYER_DIR = ROOT / "build" / "layer"
LAYER_STAMP = ROOT / "build" / "layer.stamp"
FUNCTION_CODE_DIR = ROOT / "build" / "function-code"
RUNTIME_PYTHON = LAMBDA_RUNTIME.name.removeprefix("python")  # "3.14"
# Names not shipped, at any depth of lambda_src (a folder's whole content with it).
NOT_SHIPPED = ("requirements*", "__pycache__", "*.pyc", ".*")
NOT_SHIPPED_GLOBS = [f"**/{name}" for name in NOT_SHIPPED]  # the same rule as CDK's asset staging reads it


def function_code() -> lambda_.Code:
    """/var/task is read-only on Lambda: code without bytecode is compiled at every cold start."""
    python = bytecode.runtime_python(RUNTIME_PYTHON)
    if python is None:
        return lambda_.Code.from_asset(str(LAMBDA_SRC), exclude=NOT_SHIPPED_GLOBS)
    try:
        bytecode.check(python, RUNTIME_PYTHON)
    except bytecode.BytecodeError as exc:
        raise ConfigError(str(exc)) from None
    staged, digest = compiled_code(python)
    # The hash is the sources' (and the Python's), not the bytecode's, which need not be
    # byte-for-byte repeatable: an unchanged function is not redeployed.
    return lambda_.Code.from_asset(str(staged), exclude=[".*"], asset_hash_type=cdk.AssetHashType.CUSTOM,
                                   asset_hash=f"{digest}-bytecode-{RUNTIME_PYTHON}")


@functools.cache
def compiled_code(python: str) -> tuple[Path, str]:
    """lambda_src's shipped files with their bytecode for Lambda's Python beside them, staged once per
    version of the sources under build/function-code/."""
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
        try:
            bytecode.compile_tree(python, building)
        except bytecode.BytecodeError as exc:
            shutil.rmtree(building, ignore_errors=True)
            raise ConfigError(str(exc)) from None
        try:
            building.rename(staged)
        except OSError:  # another synth placed the same sources first
            shutil.rmtree(building, ignore_errors=True)
    for old in FUNCTION_CODE_DIR.iterdir():  # earlier versions of the sources
        if old != staged and not old.name.startswith(".staging-"):
            shutil.rmtree(old, ignore_errors=True)
    return staged, digest


def _shipped(relative: Path) -> bool:
    """NOT_SHIPPED's rule for one path of lambda_src, for the staged copy (CDK reads NOT_SHIPPED_GLOBS)."""
    return not any(fnmatch.fnmatchcase(part, name) for part in relative.parts for name in NOT_SHIPPED)


def dependencies_layer(scope: Construct, id: str, *, name: str) -> lambda_.LayerVersion:
    if not LAYER_STAMP.exists():
        raise ConfigError("build/layer: the functions' dependency layer is not built; run `make layer` (or `make synth`)")
    return lambda_.LayerVersion(
        scope,
        id,
        code=lambda_.Code.from_asset(str(LAYER_DIR)),
        layer_version_name=name,
        compatible_runtimes=[LAMBDA_RUNTIME],
        compatible_architectures=[LAMBDA_ARCHITECTURE],
        description="Pinned runtime dependencies of the users service (lambda_src/requirements.txt)",
    )
