"""Builds the Archon app: a Stage per (stage, region), each checked by cdk-nag."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk

from cdk_app.config import CONFIG_FILE, load_raw, stages_from
from cdk_app.deploy_identity import DeployIdentityStack
from cdk_app.nag import apply_nag
from cdk_app.stack import UsersServiceStage


def build_app(app: cdk.App, *, only: str | None = None, config_file: Path = CONFIG_FILE) -> list[UsersServiceStage]:
    stages = []
    raw = load_raw(config_file)  # read and validated once
    configs = stages_from(raw, path=config_file, only=only)
    for stage in configs:
        for region in stage.aws_regions:
            stages.append(UsersServiceStage(app, stage=stage, region=region))
    repository = raw.get("delivery", {}).get("github_repository")
    if repository and only is None:  # deployed once per account, never with a single stage
        DeployIdentityStack(app, "DeployIdentity", stack_name="archon-deploy-identity", repository=repository,
                            stages=configs, description="GitHub OIDC deploy role for Archon (deploy once per account)")
    apply_nag(app)
    return stages
