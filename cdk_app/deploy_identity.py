"""The deploy identity of one AWS account, deployed once per account with an administrator's
credentials. For each stage in the account:

- a GitHub role that only the deploy workflow, run from main of the one repository (by id) in
  that stage's GitHub environment, may assume (a customised OIDC subject: DELIVERY_CLAIMS), and
  that may assume only the CDK bootstrap roles of the stage's own qualifier, describe the stage's
  stacks, and read the stage's own e2e client secret;
- the stage's CloudFormation execution policy (execution_policy.py), scoped to the stage's
  resources, for `cdk bootstrap --qualifier <stage's> --cloudformation-execution-policies`;
- the permissions boundary every role the stage's stacks create carries.

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

from cdk_app.checks import acknowledge
from cdk_app.config import AccountGroup, StageConfig
from cdk_app.execution_policy import ACCOUNT, PARTITION, boundary_statements, documents, guard_statements, statements_and_report

GITHUB_ISSUER = "token.actions.githubusercontent.com"
CDK_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")
PERMISSIONS_FILE = Path(__file__).with_name("cfn_permissions.json")
DEPLOY_WORKFLOW = ".github/workflows/deploy-stage.yml"
DEPLOY_REF = "refs/heads/main"
# The claims GitHub puts in the OIDC subject once the repository's subject template is set to
# these (README, "GitHub"): `gh api -X PUT repos/OWNER/NAME/actions/oidc/customization/sub`.
DELIVERY_CLAIMS = ("repository_id", "environment", "ref", "job_workflow_ref")


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


def github_subject(*, repository: str, repository_id: str, stage: str) -> str:
    """The OIDC subject of a job of the deploy workflow, run from main, in the stage's environment."""
    values = {"repository_id": repository_id, "environment": stage, "ref": DEPLOY_REF,
              "job_workflow_ref": f"{repository}/{DEPLOY_WORKFLOW}@{DEPLOY_REF}"}
    return ":".join(f"{claim}:{values[claim]}" for claim in DELIVERY_CLAIMS)


def github_role_name(stage: StageConfig) -> str:
    return stage.names.github_role


def deploy_identity_name(group: AccountGroup) -> str:
    """The stack's construct id and name alike, so `cdk deploy <name>` finds it."""
    return f"archon-deploy-identity-{group.name}"


def _resolve(statement: dict[str, Any]) -> iam.PolicyStatement:
    text = json.dumps(statement).replace(PARTITION, Aws.PARTITION).replace(ACCOUNT, Aws.ACCOUNT_ID)
    return iam.PolicyStatement.from_json(json.loads(text))


def _skip_static_checks(policy: iam.ManagedPolicy, reason: str) -> None:
    # What the static checks say of any policy that may create roles and resources is what an
    # execution policy is for; each is named with the reason, on this resource only.
    policy.node.default_child.add_metadata("checkov", {"skip": [  # type: ignore[union-attr]
        {"id": check, "comment": reason} for check in ("CKV_AWS_107", "CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_110", "CKV_AWS_111")]})
    # Registry handlers name some actions newer than cfn-lint's list of IAM actions.
    policy.node.default_child.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3037"]}})  # type: ignore[union-attr]


def _acknowledge_wildcards(policy: iam.ManagedPolicy, statements: list[dict[str, Any]], reason: str) -> None:
    resources = {r for s in statements if s["Effect"] == "Allow" for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    for resource in sorted(r for r in resources if "*" in r):
        spelled = resource.replace(PARTITION, "<AWS::Partition>").replace(ACCOUNT, "<AWS::AccountId>")
        acknowledge(policy, f"AwsSolutions::AwsSolutions-IAM5[Resource::{spelled}]", reason)
    for action in sorted({a for s in statements for a in s["Action"] if "*" in a}):
        acknowledge(policy, f"AwsSolutions::AwsSolutions-IAM5[Action::{action}]", reason)


class StageDeployIdentity(Construct):
    """One stage's GitHub role, execution policy and permissions boundary."""

    def __init__(self, scope: Construct, id: str, *, stage: StageConfig, repository: str, repository_id: str,
                 provider: iam.IOidcProvider, actions: list[str]) -> None:
        super().__init__(scope, id)
        self.boundary = iam.ManagedPolicy(
            self, "Boundary", managed_policy_name=stage.names.boundary,
            description=f"Permissions boundary of every role the {stage.name} stage's stacks create",
            statements=[_resolve(s) for s in boundary_statements(stage) + guard_statements(stage)])
        _acknowledge_wildcards(self.boundary, boundary_statements(stage),
                               "A permissions boundary caps the stage's roles: service-wide calls (X-Ray, stream listing) "
                               "and the stage's own tables, queues, logs and tagged keys, never IAM.")
        self.boundary.node.default_child.add_metadata("checkov", {"skip": [  # type: ignore[union-attr]
            {"id": "CKV_AWS_111", "comment": "A boundary only caps roles; its writes are the stage's own resources"}]})

        statements, self.report = statements_and_report(stage, actions)
        statements.append({"Effect": "Allow", "Action": ["ssm:GetParameters"],
                           "Resource": [f"arn:{PARTITION}:ssm:{r}:{ACCOUNT}:parameter/cdk-bootstrap/{stage.cdk_qualifier}/version"
                                        for r in stage.aws_regions]})
        self.execution_policies: list[iam.ManagedPolicy] = []
        for number, chunk in enumerate(documents(guard_statements(stage) + statements), start=1):
            policy = iam.ManagedPolicy(
                self, f"CloudFormationExecution{number}", managed_policy_name=stage.names.execution_policy(number),
                description=f"What CloudFormation needs for the {stage.name} stage's resources, on those only "
                            f"(cdk bootstrap --qualifier {stage.cdk_qualifier} --cloudformation-execution-policies)",
                statements=[_resolve(s) for s in chunk])
            _acknowledge_wildcards(
                policy, chunk,
                "The stage's execution policy: each action is scoped to the stage's names, or to its tags where the "
                "resource has a generated id; `*` only where the action takes no resource ARN (docs/execution-policy.md).")
            _skip_static_checks(policy, "CloudFormation execution policy: it creates the stage's roles (with the "
                                        "stage's boundary) and resources by design")
            self.execution_policies.append(policy)

        self.role = iam.Role(
            self, "GitHubRole", role_name=github_role_name(stage),
            description=f"GitHub Actions deploys of {repository} to {stage.name}, from main only: "
                        "may only assume the stage's CDK bootstrap roles",
            max_session_duration=Duration.hours(1),
            assumed_by=iam.WebIdentityPrincipal(provider.oidc_provider_arn, conditions={"StringEquals": {
                f"{GITHUB_ISSUER}:aud": "sts.amazonaws.com",
                f"{GITHUB_ISSUER}:sub": github_subject(repository=repository, repository_id=repository_id, stage=stage.name),
            }}),
        )
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["sts:AssumeRole", "sts:TagSession"],
            resources=[f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/cdk-{stage.cdk_qualifier}-{kind}-role-{Aws.ACCOUNT_ID}-{region}"
                       for kind in CDK_ROLES for region in stage.aws_regions]))
        # After a deploy, the smoke test and the API suite read the stage's stack outputs and its
        # own e2e client's secret; before it, IAM Access Analyzer reads the stage's policies.
        stacks = [f"arn:{Aws.PARTITION}:cloudformation:{r}:{Aws.ACCOUNT_ID}:stack/archon-{stage.name}-{r}/*" for r in stage.aws_regions]
        secrets = f"arn:{Aws.PARTITION}:secretsmanager:*:{Aws.ACCOUNT_ID}:secret:{stage.names.e2e_secret('*')}-*"
        self.role.add_to_policy(iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=stacks))
        self.role.add_to_policy(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[secrets]))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["iam:GetPolicy", "iam:GetPolicyVersion"],
            resources=[p.managed_policy_arn for p in (self.boundary, *self.execution_policies)]))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["access-analyzer:CheckAccessNotGranted", "access-analyzer:CheckNoNewAccess"], resources=["*"]))
        for resource, why in [
            *((f"arn:<AWS::Partition>:cloudformation:{r}:<AWS::AccountId>:stack/archon-{stage.name}-{r}/*",
               "CloudFormation appends an id to the stage's stack names, unknown before deploy") for r in stage.aws_regions),
            (f"arn:<AWS::Partition>:secretsmanager:*:<AWS::AccountId>:secret:{stage.names.e2e_secret('*')}-*",
             "Secrets Manager appends a random suffix to the stage's secret names"),
            ("*", "IAM Access Analyzer's policy checks take no resource ARN"),
        ]:
            acknowledge(self.role, f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]", why)

        CfnOutput(self, "DeployRoleArn", value=self.role.role_arn,
                  description=f"The secret AWS_DEPLOY_ROLE_ARN of the GitHub environment {stage.name}"
                  ).override_logical_id(f"DeployRoleArn{stage.name.title()}")
        arns = Fn.join(",", [p.managed_policy_arn for p in self.execution_policies])
        CfnOutput(self, "BootstrapCommand", description=f"Run once for {stage.name}, with the same administrator credentials",
                  value=Fn.join("", [
                      "npx cdk bootstrap ", " ".join(f"aws://{Aws.ACCOUNT_ID}/{r}" for r in stage.aws_regions),
                      f" --qualifier {stage.cdk_qualifier} --toolkit-stack-name CDKToolkit-{stage.cdk_qualifier}",
                      " --cloudformation-execution-policies ", arns])).override_logical_id(f"BootstrapCommand{stage.name.title()}")


class DeployIdentityStack(Stack):
    def __init__(self, scope: Construct, *, repository: str, repository_id: str, group: AccountGroup,
                 resource_types: dict[str, set[str]], **kwargs: Any) -> None:
        name = deploy_identity_name(group)
        super().__init__(scope, name, stack_name=name, synthesizer=BootstraplessSynthesizer(), **kwargs)
        provider = iam.OidcProviderNative(
            self, "GitHub", url=f"https://{GITHUB_ISSUER}", client_ids=["sts.amazonaws.com"]
        )
        self.stages = {
            stage.name: StageDeployIdentity(self, stage.name.title(), stage=stage, repository=repository, repository_id=repository_id,
                                            provider=provider, actions=execution_actions(resource_types[stage.name]))
            for stage in group.stages
        }
