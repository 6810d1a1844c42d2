"""Alarms, the encrypted alarm topic and the dashboard of one (stage, region).

Every alarm's threshold is stated once in ALARMS with the reason for it; docs/operations.md has
a runbook section per alarm (a test checks that each one has its section). Alarms notify the
topic on ALARM and on OK, so whoever is paged also hears when it is over.
"""

from __future__ import annotations

import json

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_app.config import MonitoringConfig
from cdk_app.defaults import METRICS_NAMESPACE, Lifecycle, customer_key
from cdk_app.naming import StageNames
from cdk_app.functions import ServiceFunction
from cdk_app.messaging import dead_letter_queue

RUNBOOK = "docs/operations.md"
FIVE_MINUTES = Duration.minutes(5)
ONE_MINUTE = Duration.minutes(1)


@dataclass(frozen=True, kw_only=True)
class Threshold:
    value: float
    periods: int  # evaluation periods
    breaching: int  # datapoints within them that must breach
    why: str


# The thresholds, each with the reason it is what it is.
ALARMS: dict[str, Threshold] = {
    "api-5xx-rate": Threshold(value=0.05, periods=5, breaching=3, why=(
        "5% of requests answered 5XX in 3 of 5 minutes: one bad request at low traffic does not page, "
        "a real outage does within minutes. Also the region's Route 53 health check.")),
    "api-latency-p99": Threshold(value=3000, periods=3, breaching=2, why=(
        "p99 above 3 s in 2 of 3 five-minute periods: a cold start (about 1 s) stays under it, "
        "while the function's 10 s timeout is still far off.")),
    "function-errors": Threshold(value=3, periods=1, breaching=1, why=(
        "3 or more crashed or timed-out invocations in 5 minutes: handled errors are answers, not "
        "crashes, so any pattern of crashes is a bug or a broken dependency.")),
    "function-throttles": Threshold(value=1, periods=1, breaching=1, why=(
        "Any throttle: the functions reserve no concurrency, so a throttle means the account's "
        "concurrency is exhausted and callers get 5XX or messages wait.")),
    "function-duration": Threshold(value=0.8, periods=3, breaching=2, why=(
        "The slowest invocation above 80% of the timeout in 2 of 3 five-minute periods: the next "
        "slowdown becomes timeouts.")),
    "dlq-depth": Threshold(value=1, periods=1, breaching=1, why=(
        "Any message in a dead-letter queue is an email that will not be sent until an operator "
        "redrives it.")),
    "queue-age": Threshold(value=600, periods=2, breaching=2, why=(
        "The oldest message older than 10 minutes for 10 minutes: normal delivery takes seconds "
        "(5 s batching window), so the processor is failing or stalled.")),
    "pipe-failures": Threshold(value=1, periods=3, breaching=2, why=(
        "Failed Pipe executions in 2 of 3 five-minute periods: one retried blip does not page, a "
        "Pipe that keeps failing (permissions, queue gone) does before stream records expire (24 h).")),
    "table-throttles": Threshold(value=10, periods=1, breaching=1, why=(
        "10 throttled reads or writes in 5 minutes: the SDK's retries absorb a few, beyond that "
        "callers see 503s (on-demand tables throttle past twice their previous peak or on a hot key).")),
    "replication-latency": Threshold(value=60_000, periods=2, breaching=2, why=(
        "Replication to another region more than 60 s behind for 10 minutes: reads there are "
        "stale; normally it is about a second.")),
    "ses-bounce-rate": Threshold(value=0.04, periods=1, breaching=1, why=(
        "SES reviews an account at a 5% bounce rate; 4% leaves time to act before sending is paused.")),
    "ses-complaint-rate": Threshold(value=0.0008, periods=1, breaching=1, why=(
        "SES reviews an account at a 0.1% complaint rate; 0.08% leaves time to act.")),
    "duplicate-rejections": Threshold(value=20, periods=1, breaching=1, why=(
        "One caller refused 20 or more creates as duplicates (409) in 5 minutes: a service retrying "
        "with new Idempotency-Keys makes a few, someone asking which addresses are registered makes "
        "many (each also counts against the caller's hourly quota).")),
}


def custom_metric(name: str, *, service: str, stage: str) -> cloudwatch.Metric:
    """A Powertools metric the functions emit (namespace Archon, dimensions service and stage)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE, metric_name=name, dimensions_map={"service": service, "stage": stage},
        statistic="Sum", period=FIVE_MINUTES, label=name,
    )


class AlarmTopic(Construct):
    """The stage's alarm topic: KMS-encrypted (a key CloudWatch may use), TLS-only."""

    def __init__(self, scope: Construct, id: str, *, names: StageNames, lifecycle: Lifecycle, alarm_email: str | None) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        # CloudWatch cannot publish to a topic under the AWS-managed SNS key, so the topic gets a
        # key of its own whose policy lets CloudWatch, for this account only, use it.
        self.key = customer_key(self, "Key", lifecycle=lifecycle, description=f"{names.prefixed()} alarm topic")
        self.key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" is this key
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
        ))
        self.topic = sns.Topic(
            self, "Topic", topic_name=names.prefixed("alarms"), display_name=f"Archon {names.stage} alarms",
            master_key=self.key, enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[self.topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {"aws:SourceArn": stack.format_arn(
                    service="cloudwatch", resource="alarm", resource_name=names.prefixed("*"),
                    arn_format=ArnFormat.COLON_RESOURCE_NAME)},
            },
        ))
        self.dead_letter_queue: sqs.Queue | None = None
        if alarm_email:
            # Notifications SNS cannot deliver (the address bounces) wait here, not vanish.
            self.dead_letter_queue = dead_letter_queue(self, "DeliveryDeadLetterQueue", name=names.prefixed("alarm-delivery-dlq"),
                                                       holds="the alarm email subscription")
            self.topic.add_subscription(
                subscriptions.EmailSubscription(alarm_email, dead_letter_queue=self.dead_letter_queue)
            )


def pipe_metric(pipe_name: str, name: str) -> cloudwatch.Metric:
    """A metric of the outbox Pipe, summed; alarms and the dashboard set their own period."""
    return cloudwatch.Metric(namespace="AWS/EventBridge/Pipes", metric_name=name, dimensions_map={"PipeName": pipe_name}, statistic="Sum")


def table_metric(table_name: str, name: str, *, statistic: str = "Sum", **dimensions: str) -> cloudwatch.Metric:
    """A metric of the users table (summed unless said otherwise)."""
    return cloudwatch.Metric(namespace="AWS/DynamoDB", metric_name=name, dimensions_map={"TableName": table_name, **dimensions},
                             statistic=statistic)


class ServiceMonitoring(Construct):
    """Alarms and the dashboard for one (stage, region) of the service, each where `settings`
    turns it on; `regions` are the stage's, the primary first."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        names: StageNames,
        lifecycle: Lifecycle,
        settings: MonitoringConfig,
        alarm_email: str | None,
        regions: Sequence[str],
        api: apigw.RestApi,
        functions: dict[str, ServiceFunction],
        queue: sqs.IQueue,
        dead_letter_queues: dict[str, sqs.IQueue],
        pipe_name: str,
    ) -> None:
        super().__init__(scope, id)
        region = Stack.of(self).region
        self._names, self._lifecycle, self._alarm_email, self._primary_region = names, lifecycle, alarm_email, regions[0]
        self._prefix = names.prefixed(region)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self.topic: sns.ITopic | None = None
        self.api_errors: cloudwatch.Alarm | None = None
        # ReplicationLatency is published in the sending region, per receiving region.
        self.replication = {
            other: table_metric(names.table, "ReplicationLatency", statistic="Average", ReceivingRegion=other).with_(period=FIVE_MINUTES)
            for other in regions if other != region
        }
        if settings.alarms:
            dead_letter_queues = self._alarms(api=api, functions=functions, queue=queue,
                                              dead_letter_queues=dead_letter_queues, pipe_name=pipe_name)
        self.dashboard: cloudwatch.Dashboard | None = None
        if settings.dashboard:
            self.dashboard = self._dashboard(api=api, functions=functions, queue=queue,
                                             dead_letter_queues=dead_letter_queues, pipe_name=pipe_name)

    def _alarms(self, *, api: apigw.RestApi, functions: dict[str, ServiceFunction],
                queue: sqs.IQueue, dead_letter_queues: dict[str, sqs.IQueue], pipe_name: str) -> dict[str, sqs.IQueue]:
        """Every alarm of ALARMS that applies here; returns the dead-letter queues watched, the
        alarm topic's own included."""
        region = Stack.of(self).region
        alarm_topic = AlarmTopic(self, "Alarms", names=self._names, lifecycle=self._lifecycle, alarm_email=self._alarm_email)
        self.topic = alarm_topic.topic
        if alarm_topic.dead_letter_queue is not None:
            dead_letter_queues = {**dead_letter_queues, "alarm-delivery-dlq": alarm_topic.dead_letter_queue}
        api_stage = api.deployment_stage

        self.api_errors = self._alarm(
            "api-5xx-rate", api_stage.metric_server_error(statistic="Average", period=ONE_MINUTE),
            "Share of API requests answered with a 5XX")
        self._alarm("api-latency-p99", api_stage.metric_latency(statistic="p99", period=FIVE_MINUTES),
                    "API p99 latency (ms)")
        for name, fn in functions.items():
            timeout_ms = fn.function.timeout.to_milliseconds() if fn.function.timeout else 3000
            self._alarm("function-errors", fn.function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                        f"{name}: crashed or timed-out invocations", subject=name)
            self._alarm("function-throttles", fn.function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                        f"{name}: throttled invocations", subject=name)
            self._alarm("function-duration", fn.function.metric_duration(period=FIVE_MINUTES, statistic="Maximum"),
                        f"{name}: slowest invocation (ms) against its {timeout_ms // 1000} s timeout",
                        subject=name, value=ALARMS["function-duration"].value * timeout_ms)
        for name, dlq in dead_letter_queues.items():
            self._alarm("dlq-depth", dlq.metric_approximate_number_of_messages_visible(period=ONE_MINUTE, statistic="Maximum"),
                        f"{name}: messages waiting in the dead-letter queue", subject=name)
        self._alarm("queue-age", queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
                    "Age (s) of the oldest welcome message waiting")
        self._alarm("pipe-failures", pipe_metric(pipe_name, "ExecutionFailed").with_(period=FIVE_MINUTES),
                    "Outbox Pipe executions that failed")
        self._alarm("table-throttles", cloudwatch.MathExpression(
            expression="reads + writes", label="throttled requests", period=FIVE_MINUTES,
            using_metrics={
                "reads": table_metric(self._names.table, "ReadThrottleEvents").with_(period=FIVE_MINUTES),
                "writes": table_metric(self._names.table, "WriteThrottleEvents").with_(period=FIVE_MINUTES),
            }), "Throttled requests on the users table")
        for other, metric in self.replication.items():
            self._alarm("replication-latency", metric, f"Replication latency (ms) from {region} to {other}", subject=other)
        self._duplicate_rejections(functions["users-api"])
        if region == self._primary_region:  # SES reputation is per account; watched once
            for slug, metric_name in (("ses-bounce-rate", "Reputation.BounceRate"), ("ses-complaint-rate", "Reputation.ComplaintRate")):
                self._alarm(slug, cloudwatch.Metric(namespace="AWS/SES", metric_name=metric_name, statistic="Maximum",
                                                    period=Duration.hours(1)), f"SES {metric_name}")
        return dead_letter_queues

    def _duplicate_rejections(self, users_api: ServiceFunction) -> None:
        """Refused duplicates per caller, from the users API's last line per request (Contributor
        Insights ranks callers by it), and an alarm on the caller with the most."""
        rule_name = f"{self._prefix}-duplicate-rejections"
        rule = cloudwatch.CfnInsightRule(
            self, "DuplicateRejectionsByCaller", rule_name=rule_name, rule_state="ENABLED",
            rule_body=json.dumps({
                "Schema": {"Name": "CloudWatchLogRule", "Version": 1},
                "LogGroupNames": [users_api.log_group_name],  # as a string: the rule body is JSON text
                "LogFormat": "JSON",
                "Contribution": {"Keys": ["$.caller"], "Filters": [
                    {"Match": "$.message", "In": ["request handled"]},
                    {"Match": "$.http_method", "In": ["POST"]},
                    {"Match": "$.status", "In": [409]},
                ]},
                "AggregateOn": "Count",
            }))
        rule.node.add_dependency(users_api.log_group)
        self._alarm("duplicate-rejections", cloudwatch.MathExpression(
            expression=f"INSIGHT_RULE_METRIC('{rule_name}', 'MaxContributorValue')", label="duplicates refused, top caller",
            period=FIVE_MINUTES), "Creates refused as duplicates (409) for the caller with the most")

    def _alarm(self, slug: str, metric: cloudwatch.IMetric, what: str, *, subject: str | None = None,
               value: float | None = None) -> cloudwatch.Alarm:
        spec = ALARMS[slug]
        name = f"{self._prefix}-{slug}" + (f"-{subject}" if subject else "")
        alarm = cloudwatch.Alarm(
            self, name.removeprefix(self._prefix + "-"),
            alarm_name=name,
            alarm_description=f"{what}. {spec.why} Runbook: {RUNBOOK}#{slug}",
            metric=metric,
            threshold=spec.value if value is None else value,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=spec.periods,
            datapoints_to_alarm=spec.breaching,
            # No traffic is not an outage; quiet metrics are simply absent.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        assert self.topic is not None  # set before any alarm
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms[name] = alarm
        return alarm

    def _dashboard(self, *, api: apigw.RestApi, functions: dict[str, ServiceFunction],
                   queue: sqs.IQueue, dead_letter_queues: dict[str, sqs.IQueue], pipe_name: str) -> cloudwatch.Dashboard:
        api_stage = api.deployment_stage
        fns = functions.values()
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=self._prefix,
                                         default_interval=Duration.hours(3))
        width = 8
        if self.alarms:
            dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="API requests", width=width, left=[
                api_stage.metric_count(statistic="Sum", period=ONE_MINUTE, label="requests")]),
            cloudwatch.GraphWidget(title="API latency (ms)", width=width, left=[
                api_stage.metric_latency(statistic="p50", period=ONE_MINUTE, label="p50"),
                api_stage.metric_latency(statistic="p99", period=ONE_MINUTE, label="p99")]),
            cloudwatch.GraphWidget(title="API errors", width=width, left=[
                api_stage.metric_client_error(statistic="Sum", period=ONE_MINUTE, label="4XX"),
                api_stage.metric_server_error(statistic="Sum", period=ONE_MINUTE, label="5XX")]),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Function invocations and errors", width=width, left=[
                m for fn in fns for m in (
                    fn.function.metric_invocations(statistic="Sum", period=ONE_MINUTE, label=f"{fn.name} invocations"),
                    fn.function.metric_errors(statistic="Sum", period=ONE_MINUTE, label=f"{fn.name} errors"),
                    fn.function.metric_throttles(statistic="Sum", period=ONE_MINUTE, label=f"{fn.name} throttles"))]),
            cloudwatch.GraphWidget(title="Function duration p99 (ms)", width=width, left=[
                fn.function.metric_duration(statistic="p99", period=ONE_MINUTE, label=fn.name) for fn in fns]),
            cloudwatch.GraphWidget(title="Users created, duplicates rejected", width=width, left=[
                custom_metric("UsersCreated", service="users-api", stage=self._names.stage),
                custom_metric("DuplicateEmailsRejected", service="users-api", stage=self._names.stage)]),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Welcome emails", width=width, left=[
                custom_metric(name, service="notifications", stage=self._names.stage)
                for name in ("WelcomeEmailsSent", "WelcomeEmailsFailed", "WelcomeEmailsDeduplicated", "WelcomeMarkFailed")]),
            cloudwatch.GraphWidget(title="Queue depth", width=width, left=[
                queue.metric_approximate_number_of_messages_visible(statistic="Maximum", period=ONE_MINUTE, label="notifications"),
                *(dlq.metric_approximate_number_of_messages_visible(statistic="Maximum", period=ONE_MINUTE, label=name)
                  for name, dlq in dead_letter_queues.items())]),
            cloudwatch.GraphWidget(title="Oldest message age (s)", width=width, left=[
                queue.metric_approximate_age_of_oldest_message(statistic="Maximum", period=ONE_MINUTE, label="notifications")]),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Outbox Pipe", width=width, left=[
                pipe_metric(pipe_name, name).with_(period=ONE_MINUTE, label=name)
                for name in ("EventCount", "ExecutionFailed", "ExecutionThrottled")]),
            cloudwatch.GraphWidget(title="Users table throttles", width=width, left=[
                table_metric(self._names.table, name).with_(period=ONE_MINUTE, label=name)
                for name in ("ReadThrottleEvents", "WriteThrottleEvents")]),
            cloudwatch.GraphWidget(title="Replication latency (ms)", width=width,
                                   left=[m.with_(label=f"to {other}") for other, m in self.replication.items()] or [
                                       table_metric(self._names.table, "SuccessfulRequestLatency", statistic="Average", Operation="GetItem")
                                       .with_(period=ONE_MINUTE, label="GetItem latency (single region)")]),
        )
        return dashboard
