"""The outbox: an EventBridge Pipe from the table stream to the notifications queue.

The API function never talks to SQS. Every user item this region writes appears on the stream;
the Pipe forwards exactly those INSERTs as the welcome message, so a crash between "user stored"
and "message sent" cannot lose an email.
"""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_app.defaults import Lifecycle, log_group
from cdk_app.messaging import dead_letter_queue
from cdk_app.checks import acknowledge
from users import contract

STREAM_BATCH_SIZE = 10
# Retries with backoff before a stream batch goes to the outbox DLQ; stream records live 24 h.
STREAM_MAX_RETRIES = 10


def outbox_filter(region: str) -> dict:
    """Only new user items (not email guards or idempotency records) written in `region`."""
    return {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {contract.LIST_INDEX_PARTITION: {"S": [contract.USER_ENTITY]},
                                  contract.REGION_ATTRIBUTE: {"S": [region]}}},
    }


# The original design's message, built from the new image: its type, then each other field from
# the user attribute of that name.
MESSAGE_TEMPLATE = "{" + ", ".join(
    [f'"type": "{contract.WELCOME_MESSAGE_TYPE}"']
    + [f'"{field}": "<$.dynamodb.NewImage.{field}.S>"' for field in contract.WELCOME_MESSAGE_FIELDS if field != "type"]
) + "}"


class OutboxPipe(Construct):
    """The Pipe `pipe_name` from the table stream `stream_arn` to `queue`, its failed batches in
    the queue `dead_letter_queue_name`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lifecycle: Lifecycle,
        pipe_name: str,
        dead_letter_queue_name: str,
        stream_arn: str,
        queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.pipe_name = pipe_name
        # Stream batches the Pipe could not deliver: kept for redrive, never dropped.
        self.dead_letter_queue = dead_letter_queue(self, "DeadLetterQueue", name=dead_letter_queue_name,
                                                   holds="the outbox Pipe (its DeadLetterConfig)")
        logs = log_group(self, "Logs", lifecycle=lifecycle)
        self.role = iam.Role(
            self,
            "Role",
            # Only this Pipe of this account may use the role (confused-deputy protection).
            assumed_by=iam.ServicePrincipal(
                "pipes.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {"aws:SourceArn": stack.format_arn(service="pipes", resource="pipe", resource_name=pipe_name)},
                },
            ),
            description="Outbox pipe: read the users table stream, send to the notifications queue",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                resources=[stream_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:ListStreams"], resources=["*"])  # no resource-level support
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"], resources=[queue.queue_arn, self.dead_letter_queue.queue_arn]
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[logs.log_group_arn])
        )
        self.pipe = pipes.CfnPipe(
            self,
            "Pipe",
            name=self.pipe_name,
            description="users table stream -> welcome messages",
            role_arn=self.role.role_arn,
            source=stream_arn,
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                dynamo_db_stream_parameters=pipes.CfnPipe.PipeSourceDynamoDBStreamParametersProperty(
                    starting_position="TRIM_HORIZON",
                    batch_size=STREAM_BATCH_SIZE,
                    maximum_retry_attempts=STREAM_MAX_RETRIES,
                    on_partial_batch_item_failure="AUTOMATIC_BISECT",
                    dead_letter_config=pipes.CfnPipe.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
                ),
                filter_criteria=pipes.CfnPipe.FilterCriteriaProperty(
                    filters=[pipes.CfnPipe.FilterProperty(pattern=json.dumps(outbox_filter(stack.region)))]
                ),
            ),
            target=queue.queue_arn,
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(input_template=MESSAGE_TEMPLATE),
            log_configuration=pipes.CfnPipe.PipeLogConfigurationProperty(
                level="ERROR",
                cloudwatch_logs_log_destination=pipes.CfnPipe.CloudwatchLogsLogDestinationProperty(
                    log_group_arn=logs.log_group_arn
                ),
            ),
        )
        self.pipe.node.add_dependency(self.role)
        acknowledge(
            self.role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "Only dynamodb:ListStreams uses Resource '*': it supports no resource-level permissions, and Pipes needs it for a stream source.",
        )

