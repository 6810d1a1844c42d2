"""The notifications queue and its dead-letter queue: encrypted, TLS-only, redriven."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_app.checks import acknowledge
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


def dead_letter_queue(scope: Construct, id: str, *, name: str, holds: str, source_queue: str | None = None) -> sqs.Queue:
    """A queue that holds what could not be delivered (`holds` says what, for the reviewer).

    Its redrive-allow policy says which queue may use it as a dead-letter queue (`source_queue`,
    by name: an ARN reference would make the two queues depend on each other), or that none may
    (a Pipe's or a subscription's dead-letter queue). It has no dead-letter queue of its own."""
    stack = Stack.of(scope)
    allow = (sqs.RedriveAllowPolicy(redrive_permission=sqs.RedrivePermission.BY_QUEUE, source_queues=[
                sqs.Queue.from_queue_arn(scope, f"{id}Source", stack.format_arn(service="sqs", resource=source_queue))])
             if source_queue else sqs.RedriveAllowPolicy(redrive_permission=sqs.RedrivePermission.DENY_ALL))
    queue = secure_queue(scope, id, name=name, redrive_allow_policy=allow)
    for finding in ("AwsSolutions::AwsSolutions-SQS3", "Serverless::Serverless-SQSRedrivePolicy"):
        acknowledge(queue, finding, f"This queue is the dead-letter queue of {holds}; a dead-letter queue has none of its own.")
    if source_queue is None:
        acknowledge(queue, "cdk-validator-cfnguard::sqs_dlq_check",
                    f"This queue is the dead-letter queue of {holds}, which sends to it directly; no SQS queue may "
                    "redrive into it (its redrive-allow policy denies all), and a dead-letter queue has none of its own.")
    return queue


class NotificationQueue(Construct):
    """`consumer_timeout_seconds`: the timeout of the function the queue feeds."""

    def __init__(self, scope: Construct, id: str, *, name: str, consumer_timeout_seconds: int) -> None:
        super().__init__(scope, id)
        self.dead_letter_queue = dead_letter_queue(self, "DeadLetterQueue", name=f"{name}-dlq",
                                                   holds="the notifications queue (messages leave it by an operator's redrive)",
                                                   source_queue=name)
        self.queue = secure_queue(
            self,
            "Queue",
            name=name,
            visibility_timeout=Duration.seconds(VISIBILITY_TIMEOUT_FACTOR * consumer_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVE_COUNT, queue=self.dead_letter_queue),
        )
