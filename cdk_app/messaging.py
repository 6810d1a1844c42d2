"""The notifications queue and its dead-letter queue: encrypted, TLS-only, redriven."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_app.config import StageConfig
from cdk_app.nag import acknowledge
from cdk_app.defaults import MAX_RECEIVE_COUNT, QUEUE_RETENTION_DAYS, VISIBILITY_TIMEOUT_FACTOR


def secure_queue(scope: Construct, id: str, *, name: str, **props: Any) -> sqs.Queue:
    """Every queue here: SQS-managed encryption at rest, a policy denying non-TLS access, 14 days."""
    return sqs.Queue(
        scope,
        id,
        queue_name=name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(QUEUE_RETENTION_DAYS),
        **props,
    )


class NotificationQueue(Construct):
    def __init__(self, scope: Construct, id: str, *, stage: StageConfig) -> None:
        super().__init__(scope, id)
        self.dead_letter_queue = secure_queue(self, "DeadLetterQueue", name=f"{stage.queue_name}-dlq")
        acknowledge(
            self.dead_letter_queue,
            "Serverless::Serverless-SQSRedrivePolicy",
            "This is the notifications queue's dead-letter queue; messages leave it only by an operator's redrive.",
        )
        self.queue = secure_queue(
            self,
            "Queue",
            name=stage.queue_name,
            visibility_timeout=Duration.seconds(VISIBILITY_TIMEOUT_FACTOR * stage.notifications.timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVE_COUNT, queue=self.dead_letter_queue),
        )
