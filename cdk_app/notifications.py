"""The welcome-notification processor: consumes the queue, sends through SES."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses as ses
from constructs import Construct

from cdk_app.config import FunctionConfig
from cdk_app.defaults import Lifecycle
from cdk_app.functions import ServiceFunction
from cdk_app.ids import staged_unique_id
from cdk_app.messaging import NotificationQueue
from cdk_app.checks import acknowledge
from users import contract

BATCH_SIZE = 10  # as originally designed
BATCHING_WINDOW = Duration.seconds(5)  # fewer, fuller invocations when traffic is light


class WelcomeNotifications(Construct):
    """The queue `queue_name` and the processor `function_name` (sized by `sizing`) that sends
    each user's welcome email from `sender`, marking it on the user item in `table_arn`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lifecycle: Lifecycle,
        queue_name: str,
        function_name: str,
        sizing: FunctionConfig,
        sender: str,
        layer: lambda_.ILayerVersion,
        table_name: str,
        table_arn: str,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.queue = NotificationQueue(self, "Queue", name=queue_name, consumer_timeout_seconds=sizing.timeout_seconds)
        # The sender must be a verified SES identity in each region; creating it here starts
        # that verification (an email to the address) on first deploy.
        self.identity = ses.EmailIdentity(self, "Sender", identity=ses.Identity.email(sender))
        sender_domain = sender.split("@", 1)[1]
        self.processor = ServiceFunction(
            self,
            "Processor",
            lifecycle=lifecycle,
            name="notifications",
            function_name=function_name,
            handler="handlers.notifications.handler",
            sizing=sizing,
            layer=layer,
            description="Sends each new user one welcome email",
            environment={
                contract.ENV_TABLE_NAME: table_name,
                contract.ENV_SENDER_ADDRESS: sender,
                # A lease outlives any invocation holding it, so a crashed one frees the email.
                contract.ENV_DELIVERY_LEASE_SECONDS: str(sizing.timeout_seconds * 2),
            },
        )
        role = self.processor.role
        # Deduplication marks live on user items only.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:UpdateItem"],
                resources=[table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{contract.USER_PREFIX}*"]}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail"],
                resources=[
                    stack.format_arn(service="ses", resource="identity", resource_name=sender),
                    stack.format_arn(service="ses", resource="identity", resource_name=sender_domain),
                ],
                conditions={"StringEquals": {"ses:FromAddress": sender}},
            )
        )
        # What SqsEventSource does (a mapping and the consume grant), under the id it gave the
        # mapping while the stacks sat in a Stage: Lambda refuses a second mapping of one queue to
        # one function, so a new logical id would fail the deploy of every stage deployed before.
        mapping = self.processor.entry_point.add_event_source_mapping(
            f"SqsEventSource:{staged_unique_id(self.queue.queue)}",
            event_source_arn=self.queue.queue.queue_arn,
            batch_size=BATCH_SIZE,
            max_batching_window=BATCHING_WINDOW,
            report_batch_item_failures=True,
        )
        self.queue.queue.grant_consume_messages(self.processor.function)
        acknowledge(
            mapping,
            "Serverless::Serverless-LambdaEventSourceMappingDestination",
            "SQS event sources take no on-failure destination; the queue's redrive policy moves failed messages to its DLQ.",
        )
