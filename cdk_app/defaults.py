"""Secure defaults, stated once and used by every construct."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_app.config import SERVICE_NAME, StageConfig

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


def removal_policy(stage: StageConfig) -> RemovalPolicy:
    return RemovalPolicy.RETAIN if stage.retain_data else RemovalPolicy.DESTROY


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


def log_group(scope: Construct, id: str, *, stage: StageConfig, name: str | None = None) -> logs.LogGroup:
    """A log group owned by the stack: the stage's retention, removed with a dev stack."""
    return logs.LogGroup(
        scope,
        id,
        log_group_name=name,
        retention=_RETENTION[stage.log_retention_days],
        removal_policy=removal_policy(stage),
    )
