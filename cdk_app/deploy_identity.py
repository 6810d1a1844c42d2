"""The deploy identity, deployed once per account: GitHub's OIDC provider and a role that only
this repository's deploy environments may assume, and that may only assume the CDK bootstrap
roles of the regions in config (`cdk deploy` does the rest through them)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_app.config import StageConfig

GITHUB_ISSUER = "token.actions.githubusercontent.com"
CDK_QUALIFIER = "hnb659fds"  # `cdk bootstrap`'s default qualifier
CDK_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")


class DeployIdentityStack(Stack):
    def __init__(self, scope: Construct, id: str, *, repository: str, stages: list[StageConfig], **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        provider = iam.OidcProviderNative(
            self, "GitHub", url=f"https://{GITHUB_ISSUER}", client_ids=["sts.amazonaws.com"]
        )
        # Only jobs that run in one of the stages' GitHub environments: never a fork, a branch
        # or a pull request of some other repository.
        subjects = [f"repo:{repository}:environment:{s.name}" for s in stages]
        self.role = iam.Role(
            self,
            "DeployRole",
            role_name="archon-github-deploy",
            description=f"GitHub Actions deploys of {repository}: may only assume the CDK bootstrap roles",
            max_session_duration=Duration.hours(1),
            assumed_by=iam.WebIdentityPrincipal(
                provider.oidc_provider_arn,
                conditions={
                    "StringEquals": {f"{GITHUB_ISSUER}:aud": "sts.amazonaws.com", f"{GITHUB_ISSUER}:sub": subjects},
                },
            ),
        )
        regions = sorted({r for s in stages for r in s.aws_regions})
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole", "sts:TagSession"],
                resources=[
                    f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/cdk-{CDK_QUALIFIER}-{kind}-role-{Aws.ACCOUNT_ID}-{region}"
                    for kind in CDK_ROLES for region in regions
                ],
            )
        )
        CfnOutput(self, "DeployRoleArn", value=self.role.role_arn,
                  description="Set as the repository secret AWS_DEPLOY_ROLE_ARN")
