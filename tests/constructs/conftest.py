"""Each construct alone, on a bare Stack of a fresh App: no CLI synth, no config file, only the
props the construct takes."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from cdk_app.defaults import Lifecycle

ACCOUNT, REGION = "111111111111", "us-east-1"
DEV = Lifecycle(stage="dev", retain_data=False, log_retention_days=14, audit_log_retention_days=365)
PROD = Lifecycle(stage="prod", retain_data=True, log_retention_days=365, audit_log_retention_days=400)


@pytest.fixture
def stack() -> Callable[..., Any]:
    """A bare stack in `region` (us-east-1 by default)."""
    import aws_cdk as cdk

    def make(region: str = REGION) -> cdk.Stack:
        return cdk.Stack(cdk.App(), "Bare", env=cdk.Environment(account=ACCOUNT, region=region))

    return make


def template(stack: Any) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_stack(stack)


def of_type(stack: Any, type_: str) -> dict[str, Any]:
    return template(stack).find_resources(type_)


def only(stack: Any, type_: str) -> dict[str, Any]:
    found = of_type(stack, type_)
    assert len(found) == 1, (type_, list(found))
    return dict(next(iter(found.values())))


def layer(stack: Any) -> Any:
    from aws_cdk import aws_lambda as lambda_

    return lambda_.LayerVersion.from_layer_version_arn(stack, "Layer", f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:deps:1")
