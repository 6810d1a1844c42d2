"""The users table: a DynamoDB global table with a replica in every AWS region of the stage."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct

from cdk_app.defaults import Lifecycle, log_group
from cdk_app.functions import NO_VPC_REASON
from cdk_app.checks import acknowledge
from users import contract


class UsersTable(Construct):
    """In the primary region, the global table itself; elsewhere, a handle on the local replica.

    Exposes the ARNs the other constructs grant on: the table, its listing index and the
    stream of the replica in this construct's region.
    """

    def __init__(self, scope: Construct, id: str, *, table_name: str, primary_region: str, replica_regions: Sequence[str],
                 lifecycle: Lifecycle) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.table_name = table_name
        if stack.region == primary_region:
            table = dynamodb.TableV2(
                self,
                "Table",
                table_name=table_name,
                partition_key=dynamodb.Attribute(name=contract.PARTITION_KEY, type=dynamodb.AttributeType.STRING),
                global_secondary_indexes=[
                    dynamodb.GlobalSecondaryIndexPropsV2(
                        index_name=contract.LIST_INDEX,
                        partition_key=dynamodb.Attribute(name=contract.LIST_INDEX_PARTITION, type=dynamodb.AttributeType.STRING),
                        sort_key=dynamodb.Attribute(name=contract.LIST_INDEX_SORT, type=dynamodb.AttributeType.STRING),
                        projection_type=dynamodb.ProjectionType.INCLUDE,
                        non_key_attributes=list(contract.USER_FIELDS),
                    )
                ],
                billing=dynamodb.Billing.on_demand(),
                # Global tables require both images; the Pipe reads the new one.
                dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
                deletion_protection=lifecycle.retain_data,
                removal_policy=lifecycle.removal_policy,
                time_to_live_attribute=contract.TTL_ATTRIBUTE,
                replicas=[dynamodb.ReplicaTableProps(region=r) for r in replica_regions],
            )
            self.table_arn = table.table_arn
            assert table.table_stream_arn is not None  # the stream is configured above
            self.stream_arn: str = table.table_stream_arn
        else:
            # The replica belongs to the primary region's stack (deployed first); its stream ARN
            # carries a creation timestamp, so it is read at deploy time.
            self.table_arn = stack.format_arn(service="dynamodb", resource="table", resource_name=table_name)
            # CDK's provider function, with a role and a log group of its own instead of the managed
            # basic-execution policy on every log group: it may describe this table and write its log.
            provider_logs = log_group(self, "ReplicaStreamLogs", lifecycle=lifecycle)
            provider_role = iam.Role(
                self, "ReplicaStreamRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description="Reads the users table replica's stream ARN at deploy time")
            provider_role.add_to_policy(iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[provider_logs.log_group_arn]))
            lookup = cr.AwsCustomResource(
                self,
                "ReplicaStream",
                on_update=cr.AwsSdkCall(
                    service="DynamoDB",
                    action="describeTable",
                    parameters={"TableName": table_name},
                    physical_resource_id=cr.PhysicalResourceId.from_response("Table.LatestStreamArn"),
                    output_paths=["Table.LatestStreamArn"],
                ),
                policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=[self.table_arn]),
                role=provider_role,
                log_group=provider_logs,
                install_latest_aws_sdk=False,
            )
            self.stream_arn = lookup.get_response_field("Table.LatestStreamArn")
            # The singleton provider's construct id is "AWS" + its UUID without dashes.
            provider = stack.node.find_child("AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", ""))
            acknowledge(provider, "cdk-validator-cfnguard::lambda_inside_vpc_check", NO_VPC_REASON)
            for finding in (
                "Serverless::Serverless-LambdaDLQ",
                "Serverless::Serverless-LambdaDefaultMemorySize",
                "Serverless::Serverless-LambdaTracing",
            ):
                acknowledge(
                    provider,
                    finding,
                    "CDK's own provider for the one deploy-time describeTable call (the replica's stream ARN); "
                    "CloudFormation invokes it synchronously and it serves no traffic.",
                )
        self.index_arn = f"{self.table_arn}/index/{contract.LIST_INDEX}"

    def grant_users_api(self, role: iam.IRole, *, write_region: str, idempotency_prefix: str) -> None:
        """Exactly the item operations the users API makes. Creates (a transaction of puts) and
        Powertools idempotency records (get/put/update/delete) go to the write region's replica;
        reads (get, and listing via the index) to this region's. It writes only its own kinds of
        item: users, email guards, per-caller quotas and its idempotency records (Powertools keys
        them "<function name>.<module>.<function>#<hash>": `idempotency_prefix`)."""
        write_table_arn = self.table_arn_in(write_region)
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            resources=[write_table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [
                f"{prefix}*" for prefix in (*contract.API_ITEM_PREFIXES, idempotency_prefix)]}},
        ))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[write_table_arn]))
        if write_region != Stack.of(self).region:
            role.add_to_principal_policy(iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[self.table_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["dynamodb:Query"], resources=[self.index_arn]))

    def table_arn_in(self, region: str) -> str:
        """The ARN of the table's replica in `region` (this construct's own ARN in its region)."""
        stack = Stack.of(self)
        if region == stack.region:
            return self.table_arn
        return stack.format_arn(service="dynamodb", region=region, resource="table", resource_name=self.table_name)
