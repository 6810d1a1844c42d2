"""Secure defaults, stated once and used by every construct."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_app.checks import acknowledge
from cdk_app.config import SERVICE_NAME

SERVICE = SERVICE_NAME
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14  # newest Python runtime Lambda offers
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64  # cheaper per ms than x86_64 for the same work
METRICS_NAMESPACE = "Archon"
# Queue redrive: five receives ride out throttling bursts and a crashed batch, then the DLQ.
MAX_RECEIVE_COUNT = 5
QUEUE_RETENTION_DAYS = 14  # the original design's retention, for the queue and its DLQ
# SQS must not hand a message to a second worker while the first may still run: AWS advises a
# visibility timeout of at least six times the function timeout for SQS event sources.
VISIBILITY_TIMEOUT_FACTOR = 6


@dataclass(frozen=True, kw_only=True)
class Lifecycle:
    """How long what one stage makes lives: whether its data outlives its stack, and how long its
    logs are kept (the audit trail's longer). `stage` names it in the reasons reviewers read."""

    stage: str
    retain_data: bool
    log_retention_days: int
    audit_log_retention_days: int

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.retain_data else RemovalPolicy.DESTROY


# config/stages.schema.json allows exactly these retention periods.
_RETENTION = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS, 120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS, 180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS, 731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS, 1827: logs.RetentionDays.FIVE_YEARS, 2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS, 2922: logs.RetentionDays.EIGHT_YEARS, 3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


# A year: what AWS Control Tower's control asks of log retention (prod keeps that).
CONTROL_TOWER_RETENTION_DAYS = 365


def customer_key(scope: Construct, id: str, *, lifecycle: Lifecycle, description: str) -> kms.Key:
    """A customer-managed key, rotated, that grants may be created on only for AWS resources,
    by AWS services (AWS Control Tower's KMS control)."""
    key = kms.Key(scope, id, description=description, enable_key_rotation=True, removal_policy=lifecycle.removal_policy)
    key.add_to_resource_policy(iam.PolicyStatement(
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=["kms:CreateGrant"],
        resources=["*"],  # in a key policy, "*" is this key
        conditions={"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
    ))
    return key


def logs_key(scope: Construct, *, lifecycle: Lifecycle) -> kms.Key:
    """The stack's one key for its log groups, which CloudWatch Logs may use for this account's
    log groups in this region only."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("LogsKey")
    if isinstance(existing, kms.Key):
        return existing
    key = customer_key(stack, "LogsKey", lifecycle=lifecycle, description=f"archon-{lifecycle.stage} log groups")
    # The audit logs outlive the stack (log_group(audit=True)); so must the key they are readable with.
    key.apply_removal_policy(RemovalPolicy.RETAIN)
    key.add_to_resource_policy(iam.PolicyStatement(
        principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
        actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        resources=["*"],
        conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": stack.format_arn(
            service="logs", resource="log-group", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME)}},
    ))
    return key


def log_group(scope: Construct, id: str, *, lifecycle: Lifecycle, name: str | None = None, audit: bool = False) -> logs.LogGroup:
    """A log group owned by the stack: encrypted with the stack's key, the stage's retention,
    removed with a dev stack. An audit log (who read or listed which users) keeps the stage's
    audit retention and outlives the stack in every stage."""
    days = lifecycle.audit_log_retention_days if audit else lifecycle.log_retention_days
    group = logs.LogGroup(
        scope,
        id,
        log_group_name=name,
        retention=_RETENTION[days],
        encryption_key=logs_key(scope, lifecycle=lifecycle),
        removal_policy=RemovalPolicy.RETAIN if audit else lifecycle.removal_policy,
    )
    if days < CONTROL_TOWER_RETENTION_DAYS:
        acknowledge(
            group, "cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check",
            f"The {lifecycle.stage} stage's config keeps logs {days} days (log_retention_days): "
            "a test stage's logs are not worth a year's storage; prod keeps 365.",
        )
    return group
