"""Builds the Archon app: a stack per (stage, region), each checked by cdk-nag."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk

from cdk_app.config import CONFIG_FILE, account_groups, load_raw, stages_from
from cdk_app.deploy_identity import DeployIdentityStack
from cdk_app.checks import apply_checks, resource_types
from cdk_app.stack import UsersServiceStack, service_stacks


def build_app(app: cdk.App, *, only: str | None = None, config_file: Path = CONFIG_FILE,
              raw: dict[str, Any] | None = None, with_deploy_identity: bool = True) -> list[UsersServiceStack]:
    """raw: config_file's content as load_raw read it, where the caller has read it already."""
    stages: list[UsersServiceStack] = []
    raw = load_raw(config_file) if raw is None else raw
    # A stage's whole service runs in its primary cloud: this app serves the AWS ones, the
    # Terraform sidecar the others, so no stage ever has two user sets.
    configs = [stage for stage in stages_from(raw, path=config_file, only=only) if stage.cloud_provider == "aws"]
    for stage in configs:
        stages += service_stacks(app, stage=stage)
    delivery = raw.get("delivery", {})
    repository = delivery.get("github_repository")
    if repository and only is None and with_deploy_identity:  # one per account, never with a single stage
        for group in account_groups(configs):
            types = {stage.name: set().union(*(resource_types(s) for s in stages if s.service_config is stage))
                     for stage in group.stages}
            DeployIdentityStack(app, repository=repository, repository_id=str(delivery["github_repository_id"]),
                                group=group, resource_types=types,
                                env=cdk.Environment(account=group.account, region=group.stages[0].primary_region),
                                description=f"Archon deploy identity for {', '.join(s.name for s in group.stages)}: "
                                "GitHub OIDC roles, CloudFormation execution policies and permissions boundaries (deploy once per account)")
    apply_checks(app)
    return stages
