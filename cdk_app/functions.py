"""A service function: its own role, its own log group, arm64, tracing, the shared layer, and
optionally SnapStart (callers then invoke an alias on the published version)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_app.config import FunctionConfig
from cdk_app.defaults import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, METRICS_NAMESPACE, Lifecycle, log_group
from cdk_app.checks import acknowledge
from cdk_app.packaging import function_code


# Why the functions run outside a VPC, for AWS Control Tower's control that asks for one.
NO_VPC_REASON = (
    "It calls only AWS's public, TLS-only endpoints (DynamoDB, SES, SQS) with IAM-signed requests and "
    "reaches nothing inside a network; a VPC would add NAT gateways or interface endpoints per region and "
    "cold-start time, and protect nothing reachable only from inside it.")


class ServiceFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lifecycle: Lifecycle,
        name: str,
        function_name: str,
        handler: str,
        sizing: FunctionConfig,
        layer: lambda_.ILayerVersion,
        environment: dict[str, str],
        description: str,
        audit: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self.name = name
        self.function_name = function_name
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_group = log_group(self, "Logs", lifecycle=lifecycle, name=self.log_group_name, audit=audit)
        # A role of its own with no managed policies: only what the code uses is granted below.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{function_name}: only what its code calls",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            handler=handler,
            code=function_code(),
            layers=[layer],
            memory_size=sizing.memory_mb,
            timeout=Duration.seconds(sizing.timeout_seconds),
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if sizing.snap_start else None,
            # A replaced version is deleted, and its cached snapshot (billed while it exists) with it.
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY) if sizing.snap_start else None,
            environment={
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                # Traces time the calls; they never carry what a call returned or raised (names,
                # emails, AWS error texts).
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
                "POWERTOOLS_TRACER_CAPTURE_ERROR": "false",
                "STAGE": lifecycle.stage,
                **environment,
            },
        )
        # What API Gateway and event sources invoke. Snapshots exist only for published versions, so
        # with SnapStart that is an alias on the current one; without it, $LATEST.
        self.entry_point: lambda_.IFunction = self.function
        if sizing.snap_start:
            self.entry_point = lambda_.Alias(self, "Live", alias_name="live", version=self.function.current_version)
            # CDK warns whenever SnapStart is set: snapshots exist only for published versions. The alias publishes one.
            cdk.Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish", "The Live alias publishes the current version and callers invoke it")
        acknowledge(
            self.role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "Only xray:PutTraceSegments and xray:PutTelemetryRecords use Resource '*': X-Ray supports no resource-level permissions.",
        )
        acknowledge(self.function, "cdk-validator-cfnguard::lambda_inside_vpc_check", NO_VPC_REASON)
        acknowledge(
            self.function,
            "Serverless::Serverless-LambdaDLQ",
            "Never invoked asynchronously: API Gateway calls it synchronously or an SQS event source "
            "mapping polls for it, and the queue's redrive policy dead-letters failed messages.",
        )
        # CreateLogGroup is not granted: the group exists, so the function only writes to it.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
