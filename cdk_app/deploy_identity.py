"""The deploy identity of one AWS account, deployed once per account with an administrator's
credentials: GitHub's OIDC provider, a role that only the GitHub environments of the stages in
this account may assume and that may only assume those stages' regions' CDK bootstrap roles, and
the least-privilege CloudFormation execution policy for `cdk bootstrap`.

The execution policy is what CloudFormation's own handlers need for the resource types these
stages' templates use (cdk_app/cfn_permissions.json, from the CloudFormation registry's schemas),
instead of the AdministratorAccess that `cdk bootstrap` grants by default.

It needs no bootstrap itself (BootstraplessSynthesizer): it must exist before `cdk bootstrap` can
name its policies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import Aws, BootstraplessSynthesizer, CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_app.config import AccountGroup
from cdk_app.checks import acknowledge
from cdk_app.defaults import SERVICE

GITHUB_ISSUER = "token.actions.githubusercontent.com"
CDK_QUALIFIER = "hnb659fds"  # `cdk bootstrap`'s default qualifier
CDK_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")
PERMISSIONS_FILE = Path(__file__).with_name("cfn_permissions.json")
# IAM's limit on a managed policy document is 6,144 characters without whitespace; keep a margin.
POLICY_BUDGET = 5_500
READ_ONLY_FAMILIES = ("Describe", "Get", "List")


class UnknownResourceType(Exception):
    pass


def execution_actions(resource_types: set[str]) -> list[str]:
    """Every action CloudFormation needs to create, update and delete these resource types."""
    known: dict[str, list[str]] = json.loads(PERMISSIONS_FILE.read_text())
    missing = sorted(resource_types - set(known))
    if missing:
        raise UnknownResourceType(
            f"{PERMISSIONS_FILE.name} has no permissions for {', '.join(missing)}: run .venv/bin/python scripts/cfn_permissions.py")
    return sorted({action for t in resource_types for action in known[t]})


def policy_chunks(actions: list[str]) -> list[list[str]]:
    """The actions split into documents under IAM's managed-policy size limit."""
    chunks: list[list[str]] = [[]]
    size = 0
    for action in actions:
        if size + len(action) + 3 > POLICY_BUDGET:
            chunks.append([])
            size = 0
        chunks[-1].append(action)
        size += len(action) + 3
    return chunks


def deploy_identity_name(group: AccountGroup) -> str:
    """The stack's construct id and name alike, so `cdk deploy <name>` finds it."""
    return f"archon-deploy-identity-{group.name}"


class DeployIdentityStack(Stack):
    def __init__(self, scope: Construct, *, repository: str, group: AccountGroup, resource_types: set[str], **kwargs: Any) -> None:
        name = deploy_identity_name(group)
        super().__init__(scope, name, stack_name=name, synthesizer=BootstraplessSynthesizer(), **kwargs)
        provider = iam.OidcProviderNative(
            self, "GitHub", url=f"https://{GITHUB_ISSUER}", client_ids=["sts.amazonaws.com"]
        )
        # Only jobs that run in the GitHub environment of a stage in this account: never a fork, a
        # branch, a pull request, or another stage's environment.
        subjects = [f"repo:{repository}:environment:{s.name}" for s in group.stages]
        self.role = iam.Role(
            self,
            "DeployRole",
            role_name="archon-github-deploy",
            description=f"GitHub Actions deploys of {repository} ({', '.join(s.name for s in group.stages)}): may only assume the CDK bootstrap roles",
            max_session_duration=Duration.hours(1),
            assumed_by=iam.WebIdentityPrincipal(
                provider.oidc_provider_arn,
                conditions={
                    "StringEquals": {f"{GITHUB_ISSUER}:aud": "sts.amazonaws.com", f"{GITHUB_ISSUER}:sub": subjects},
                },
            ),
        )
        regions = sorted({r for s in group.stages for r in s.aws_regions})
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole", "sts:TagSession"],
                resources=[
                    f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/cdk-{CDK_QUALIFIER}-{kind}-role-{Aws.ACCOUNT_ID}-{region}"
                    for kind in CDK_ROLES for region in regions
                ],
            )
        )
        # After a deploy, the workflow's smoke test and API suite read the stack's outputs and the
        # e2e client's secret: these stages' stacks and user pools only (pools by their tags).
        stacks = [f"{region}:{Aws.ACCOUNT_ID}:stack/archon-{s.name}-{region}/*" for s in group.stages for region in s.aws_regions]
        pools = [f"{region}:{Aws.ACCOUNT_ID}:userpool/*" for region in regions]
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["cloudformation:DescribeStacks"],
            resources=[f"arn:{Aws.PARTITION}:cloudformation:{arn}" for arn in stacks],
        ))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["cognito-idp:DescribeUserPoolClient"],
            resources=[f"arn:{Aws.PARTITION}:cognito-idp:{arn}" for arn in pools],
            conditions={"StringEquals": {"aws:ResourceTag/service": SERVICE,
                                         "aws:ResourceTag/stage": [s.name for s in group.stages]}},
        ))
        # cdk-nag names each wildcard resource in its finding, with tokens spelled <AWS::...>.
        for service, arn in [("cloudformation", a) for a in stacks] + [("cognito-idp", a) for a in pools]:
            spelled = arn.replace(Aws.ACCOUNT_ID, "<AWS::AccountId>")
            acknowledge(
                self.role,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:{service}:{spelled}]",
                "Stack ids that CloudFormation appends to these stages' stack names, and user pool ids, are unknown "
                "before deploy: the stacks are named, and the pools are limited by their service and stage tags.",
            )
        self.execution_policies = []
        for number, actions in enumerate(policy_chunks(execution_actions(resource_types)), start=1):
            policy = iam.ManagedPolicy(
                self,
                f"CloudFormationExecution{number}",
                managed_policy_name=f"archon-cfn-execution-{number}",
                description="What CloudFormation needs for the resource types Archon's stacks use (cdk bootstrap --cloudformation-execution-policies)",
                statements=[iam.PolicyStatement(actions=actions, resources=["*"])],
            )
            if number == 1:
                # Every CDK template checks the bootstrap stack's version through this parameter.
                policy.add_statements(iam.PolicyStatement(
                    actions=["ssm:GetParameters"],
                    resources=[f"arn:{Aws.PARTITION}:ssm:{region}:{Aws.ACCOUNT_ID}:parameter/cdk-bootstrap/{CDK_QUALIFIER}/version"
                               for region in regions]))
            acknowledge(
                policy,
                "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                "A CloudFormation execution policy: CloudFormation creates resources whose names it generates, so the "
                "resources cannot be listed; the actions are exactly those the resource types' registry handlers need.",
            )
            # What the static checks say of any policy that may create roles and resources is what
            # an execution policy is for; each is named with the reason, on this resource only.
            policy.node.default_child.add_metadata("checkov", {"skip": [  # type: ignore[union-attr]
                {"id": check, "comment": "CloudFormation execution policy: it creates the stacks' roles and resources by design"}
                for check in ("CKV_AWS_107", "CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_110", "CKV_AWS_111")]})
            # Registry handlers name some actions newer than cfn-lint's list of IAM actions.
            policy.node.default_child.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3037"]}})  # type: ignore[union-attr]
            for family in (a for a in actions if "*" in a):
                if not family.split(":")[1].startswith(READ_ONLY_FAMILIES):
                    raise UnknownResourceType(f"{family}: a registry handler names a family of actions that is not read-only")
                acknowledge(
                    policy,
                    f"AwsSolutions::AwsSolutions-IAM5[Action::{family}]",
                    "A read-only family of actions as the CloudFormation registry's handler for a resource type names it; "
                    "CloudFormation needs it to read the resource back.",
                )
            self.execution_policies.append(policy)
        CfnOutput(self, "DeployRoleArn", value=self.role.role_arn,
                  description=f"Set as the secret AWS_DEPLOY_ROLE_ARN of the GitHub environments {', '.join(s.name for s in group.stages)}")
        arns = Fn.join(",", [p.managed_policy_arn for p in self.execution_policies])
        CfnOutput(self, "ExecutionPolicyArns", value=arns, description="for cdk bootstrap --cloudformation-execution-policies")
        CfnOutput(self, "BootstrapCommand", description="Run once, with the same administrator credentials",
                  value=Fn.join("", ["npx cdk bootstrap ", " ".join(f"aws://{Aws.ACCOUNT_ID}/{r}" for r in regions),
                                     " --cloudformation-execution-policies ", arns]))
