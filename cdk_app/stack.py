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
from cdk_app.defaults import SERVICE, Lifecycle
from cdk_app.domain import CustomDomain
from cdk_app.edge import ApiFirewall
from cdk_app.functions import ServiceFunction
from cdk_app.identity import ApiUsers
from cdk_app.monitoring import ServiceMonitoring
from cdk_app.checks import acknowledge
from cdk_app.notifications import WelcomeNotifications
from cdk_app.outbox import OutboxPipe
from cdk_app.packaging import dependencies_layer
from users import contract


def lifecycle_of(stage: StageConfig) -> Lifecycle:
    return Lifecycle(stage=stage.name, retain_data=stage.retain_data, log_retention_days=stage.log_retention_days,
                     audit_log_retention_days=stage.audit_log_retention_days)


class UsersServiceStack(Stack):
    def __init__(self, scope: Construct, id: str, *, stage: StageConfig, **kwargs: Any) -> None:
        # The stage's own CDK bootstrap qualifier: its own deploy roles, asset bucket and
        # execution policy, which may change this stage's resources only.
        super().__init__(scope, id, synthesizer=DefaultStackSynthesizer(qualifier=stage.cdk_qualifier), **kwargs)
        self.service_config = stage
        # Every role the stack creates carries the stage's boundary; the execution policy creates
        # no role without it (deploy_identity.py).
        names, lifecycle = stage.names, lifecycle_of(stage)
        iam.PermissionsBoundary.of(self).apply(iam.ManagedPolicy.from_managed_policy_arn(
            self, "RoleBoundary", self.format_arn(service="iam", region="", resource="policy", resource_name=names.boundary)))
        layer = dependencies_layer(self, "Dependencies", name=names.prefixed("dependencies"))
        self.data = UsersTable(self, "Data", table_name=names.table, primary_region=stage.primary_region,
                               replica_regions=stage.aws_regions[1:], lifecycle=lifecycle)
        self.users = ApiUsers(self, "Identity", names=names, lifecycle=lifecycle, mfa_required=stage.mfa_required, clients=stage.clients)

        self.users_api = ServiceFunction(
            self,
            "UsersApi",
            lifecycle=lifecycle,
            name="users-api",
            function_name=names.function("users-api"),
            handler="handlers.users_api.handler",
            sizing=stage.users_api,
            layer=layer,
            description="The users API behind API Gateway",
            audit=True,  # its log is the audit trail: who read, listed or created which users
            environment={
                contract.ENV_TABLE_NAME: names.table,
                contract.ENV_WRITE_REGION: stage.write_region,
                contract.ENV_CORS_ORIGINS: ",".join(stage.api.cors_origins),
                contract.ENV_CREATES_PER_CALLER_PER_HOUR: str(stage.api.creates_per_caller_per_hour),
                contract.ENV_CURSOR_KEY_SECRET: names.cursor_key_secret,
            },
        )
        self.cursor_key = CursorKey(self, "CursorKey", secret_name=names.cursor_key_secret, primary_region=stage.primary_region,
                                    replica_regions=stage.aws_regions[1:], lifecycle=lifecycle, reader=self.users_api.role)
        self.data.grant_users_api(self.users_api.role, write_region=stage.write_region,
                                  idempotency_prefix=f"{self.users_api.function_name}.")
        self.api = UsersApi(self, "Api", names=names, lifecycle=lifecycle, settings=stage.api,
                            handler=self.users_api.entry_point, user_pool=self.users.user_pool)

        self.notifications = WelcomeNotifications(
            self, "Notifications", lifecycle=lifecycle, queue_name=names.queue, function_name=names.function("notifications"),
            sizing=stage.notifications, sender=stage.sender, layer=layer,
            table_name=names.table, table_arn=self.data.table_arn,
        )
        self.outbox = OutboxPipe(
            self, "Outbox", lifecycle=lifecycle, pipe_name=names.outbox_pipe, dead_letter_queue_name=names.outbox_dead_letter_queue,
            stream_arn=self.data.stream_arn, queue=self.notifications.queue.queue,
        )
        self.monitoring = ServiceMonitoring(
            self, "Monitoring", names=names, lifecycle=lifecycle, settings=stage.monitoring, alarm_email=stage.alarm_email,
            regions=stage.aws_regions, api=self.api.api,
            functions={"users-api": self.users_api, "notifications": self.notifications.processor},
            queue=self.notifications.queue.queue,
            dead_letter_queues={
                "notifications-dlq": self.notifications.queue.dead_letter_queue,
                "outbox-dlq": self.outbox.dead_letter_queue,
            },
            pipe_name=self.outbox.pipe_name,
        )
        if stage.waf.enabled:
            self.firewall = ApiFirewall(self, "Firewall", lifecycle=lifecycle, name=names.prefixed("api"), rate_limit=stage.waf.rate_limit,
                                        stage_arn=self.api.api.deployment_stage.stage_arn)
        else:
            acknowledge(
                self.api.api.deployment_stage,
                "AwsSolutions::AwsSolutions-APIG3",
                f"The {stage.name} stage's config sets waf.enabled: false; throttling and the Cognito "
                "authorizer guard it, and stages that enable WAF get a web ACL.",
            )
        if stage.domain is not None:
            self.domain = CustomDomain(
                self, "Domain", names=names, domain=stage.domain, multi_region=len(stage.aws_regions) > 1,
                api=self.api.api, health_alarm=self.monitoring.api_errors
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
            stack_name=stage.names.stack(region),
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
