"""How the functions' code reaches Lambda, without Docker.

The code is lambda_src/ as it is; its dependencies are a layer built by `make layer` from the
pinned lambda_src/requirements.txt as arm64 wheels for the runtime's Python.
"""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_app.config import ROOT, ConfigError
from cdk_app.defaults import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME

LAMBDA_SRC = ROOT / "lambda_src"
LAYER_DIR = ROOT / "build" / "layer"
LAYER_STAMP = ROOT / "build" / "layer.stamp"


def function_code() -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(LAMBDA_SRC),
        exclude=["requirements*", "**/__pycache__", "**/*.pyc", ".*"],
    )


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
