"""One (stage, region) of the users service: a top-level stack."""

from __future__ import annotations

from typing import Any

from aws_cdk import DefaultStackSynthesizer, Environment, Stack, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_app.api import UsersApi
from cdk_app.config import StageConfig
from cdk_app.cursor_key import CursorKey
from cdk_app.data import UsersTable
from cdk_app.defaults import SERVICE
from cdk_app.domain import CustomDomain
from cdk_app.edge import ApiFirewall
from cdk_app.execution_policy import boundary_name, cursor_key_name
from cdk_app.functions import ServiceFunction
from cdk_app.identity import ApiUsers
from cdk_app.monitoring import ServiceMonitoring
from cdk_app.checks import acknowledge
from cdk_app.notifications import WelcomeNotifications
from cdk_app.outbox import OutboxPipe
from cdk_app.packaging import dependencies_layer
from users import contract


class UsersServiceStack(Stack):
    def __init__(self, scope: Construct, id: str, *, stage: StageConfig, **kwargs: Any) -> None:
        # The stage's own CDK bootstrap qualifier: its own deploy roles, asset bucket and
        # execution policy, which may change this stage's resources only.
        super().__init__(scope, id, synthesizer=DefaultStackSynthesizer(qualifier=stage.cdk_qualifier), **kwargs)
        self.service_config = stage
        # Every role the stack creates carries the stage's boundary; the execution policy creates
        # no role without it (deploy_identity.py).
        iam.PermissionsBoundary.of(self).apply(iam.ManagedPolicy.from_managed_policy_arn(
            self, "RoleBoundary", self.format_arn(service="iam", region="", resource="policy", resource_name=boundary_name(stage))))
        layer = dependencies_layer(self, "Dependencies", name=f"archon-{stage.name}-dependencies")
        self.data = UsersTable(self, "Data", stage=stage)
        self.users = ApiUsers(self, "Identity", stage=stage)

        self.users_api = ServiceFunction(
            self,
            "UsersApi",
            stage=stage,
            name="users-api",
            handler="handlers.users_api.handler",
            sizing=stage.users_api,
            layer=layer,
            description="The users API behind API Gateway",
            audit=True,  # its log is the audit trail: who read, listed or created which users
            environment={
                contract.ENV_TABLE_NAME: stage.table_name,
                contract.ENV_WRITE_REGION: stage.write_region,
                contract.ENV_CORS_ORIGINS: ",".join(stage.api.cors_origins),
                contract.ENV_CREATES_PER_CALLER_PER_HOUR: str(stage.api.creates_per_caller_per_hour),
                contract.ENV_CURSOR_KEY_SECRET: cursor_key_name(stage),
            },
        )
        self.cursor_key = CursorKey(self, "CursorKey", stage=stage, reader=self.users_api.role)
        # Exactly the item operations the users API makes. Creates (a transaction of puts) and
        # Powertools idempotency records (get/put/update/delete) go to the write region's
        # replica; reads (get, and listing via the index) to this region's. It writes only its
        # own kinds of item: users, email guards, per-caller quotas and its idempotency records
        # (Powertools keys them "<function name>.<module>.<function>#<hash>").
        write_table_arn = self.data.table_arn_in(stage.write_region)
        self.users_api.role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                resources=[write_table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [
                    f"{prefix}*" for prefix in (*contract.API_ITEM_PREFIXES, f"{self.users_api.function_name}.")]}},
            )
        )
        self.users_api.role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[write_table_arn])
        )
        if stage.write_region != self.region:
            self.users_api.role.add_to_policy(
                iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[self.data.table_arn])
            )
        self.users_api.role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[self.data.index_arn])
        )
        self.api = UsersApi(self, "Api", stage=stage, handler=self.users_api.entry_point, user_pool=self.users.user_pool)

        self.notifications = WelcomeNotifications(
            self, "Notifications", stage=stage, layer=layer,
            table_name=stage.table_name, table_arn=self.data.table_arn,
        )
        self.outbox = OutboxPipe(
            self, "Outbox", stage=stage, stream_arn=self.data.stream_arn, queue=self.notifications.queue.queue
        )
        self.monitoring = ServiceMonitoring(
            self, "Monitoring", stage=stage, api=self.api.api,
            functions={"users-api": self.users_api, "notifications": self.notifications.processor},
            queue=self.notifications.queue.queue,
            dead_letter_queues={
                "notifications-dlq": self.notifications.queue.dead_letter_queue,
                "outbox-dlq": self.outbox.dead_letter_queue,
            },
            pipe_name=self.outbox.pipe_name,
        )
        if stage.waf.enabled:
            self.firewall = ApiFirewall(self, "Firewall", stage=stage, stage_arn=self.api.api.deployment_stage.stage_arn)
        else:
            acknowledge(
                self.api.api.deployment_stage,
                "AwsSolutions::AwsSolutions-APIG3",
                f"The {stage.name} stage's config sets waf.enabled: false; throttling and the Cognito "
                "authorizer guard it, and stages that enable WAF get a web ACL.",
            )
        if stage.domain is not None:
            self.domain = CustomDomain(
                self, "Domain", stage=stage, api=self.api.api, health_alarm=self.monitoring.api_errors
            )


def deployment_id(stage: StageConfig, region: str) -> str:
    """What `cdk deploy` and `cdk ls` call one (stage, region): dev-us-east-1."""
    return f"{stage.name}-{region}"


def service_stacks(scope: Construct, *, stage: StageConfig) -> list[UsersServiceStack]:
    """One top-level stack per region of the stage, the primary first, each a deployment unit
    (`cdk deploy dev-us-east-1`), named archon-<stage>-<region> in CloudFormation. Top-level, not
    in a Stage: the CDK CLI's default selection (cdk diff, cdk deploy --all) sees only top-level
    stacks, and would otherwise compare or deploy nothing."""
    stacks: list[UsersServiceStack] = []
    for region in stage.aws_regions:
        stack = UsersServiceStack(
            scope,
            deployment_id(stage, region),
            stage=stage,
            env=Environment(account=stage.account, region=region),
            stack_name=f"archon-{stage.name}-{region}",
            description=f"Archon users service, {stage.name} stage, {region}"
            + (" (primary: owns the global table)" if region == stage.primary_region else f" (replica of {stage.primary_region})"),
            termination_protection=stage.retain_data,
        )
        for key, value in {"service": SERVICE, "stage": stage.name, "region": region}.items():
            Tags.of(stack).add(key, value)
        if stacks:  # the primary region's stack creates the global table the others use
            stack.add_stack_dependency(stacks[0], "the primary region's stack owns the global table")
        stacks.append(stack)
    return stacks
