"""UsersTable, NotificationQueue and the shared defaults (log groups, keys), each on a bare stack."""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from cdk_app.data import UsersTable
from cdk_app.defaults import log_group
from cdk_app.messaging import NotificationQueue
from tests.constructs.conftest import DEV, PROD, of_type, only
from users import contract


def test_the_primary_region_owns_the_global_table_with_the_contracts_keys_and_a_replica_per_other_region(stack):
    s = stack()
    UsersTable(s, "Data", table_name="users-x", primary_region="us-east-1", replica_regions=["eu-west-1"], lifecycle=PROD)
    table = only(s, "AWS::DynamoDB::GlobalTable")
    props = table["Properties"]
    assert props["TableName"] == "users-x" and table["DeletionPolicy"] == "Retain"
    assert props["KeySchema"] == [{"AttributeName": contract.PARTITION_KEY, "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": contract.TTL_ATTRIBUTE, "Enabled": True}
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == contract.LIST_INDEX
    assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(contract.USER_FIELDS)}
    assert sorted(r["Region"] for r in props["Replicas"]) == ["eu-west-1", "us-east-1"]
    assert all(r["DeletionProtectionEnabled"] is True for r in props["Replicas"])


def test_a_replica_region_owns_no_table_and_reads_its_stream_at_deploy_time(stack):
    s = stack("eu-west-1")
    table = UsersTable(s, "Data", table_name="users-x", primary_region="us-east-1", replica_regions=["eu-west-1"], lifecycle=DEV)
    assert of_type(s, "AWS::DynamoDB::GlobalTable") == {}
    assert len(of_type(s, "Custom::AWS")) == 1
    assert table.table_arn_in("us-east-1").endswith(":table/users-x") and ":us-east-1:" in table.table_arn_in("us-east-1")


def test_the_users_api_may_write_only_its_own_kinds_of_item_in_the_write_region(stack):
    s = stack("eu-west-1")
    table = UsersTable(s, "Data", table_name="users-x", primary_region="us-east-1", replica_regions=["eu-west-1"], lifecycle=DEV)
    role = iam.Role(s, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    table.grant_users_api(role, write_region="us-east-1", idempotency_prefix="archon-users-api-x.")
    policies = of_type(s, "AWS::IAM::Policy")
    statements = next(p for name, p in policies.items() if name.startswith("RoleDefaultPolicy"))["Properties"]["PolicyDocument"]["Statement"]
    writes = next(st for st in statements if "dynamodb:PutItem" in st["Action"])
    assert set(writes["Action"]) == {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    assert writes["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == [
        f"{p}*" for p in (*contract.API_ITEM_PREFIXES, "archon-users-api-x.")]
    assert ":us-east-1:" in str(writes["Resource"])
    actions = [st["Action"] for st in statements]
    assert actions.count("dynamodb:GetItem") == 2  # the write region's, and this region's replica
    assert "dynamodb:Query" in actions and "dynamodb:Scan" not in str(actions)


def test_the_queue_hides_a_message_six_times_its_consumers_timeout_and_dead_letters_after_five_receives(stack):
    s = stack()
    NotificationQueue(s, "Queue", name="notifications-x", consumer_timeout_seconds=30)
    queues = {q["Properties"]["QueueName"]: q["Properties"] for q in of_type(s, "AWS::SQS::Queue").values()}
    assert set(queues) == {"notifications-x", "notifications-x-dlq"}
    main = queues["notifications-x"]
    assert main["VisibilityTimeout"] == 180 and main["RedrivePolicy"]["maxReceiveCount"] == 5
    assert main["MessageRetentionPeriod"] == 14 * 86400 and main["SqsManagedSseEnabled"] is True
    assert queues["notifications-x-dlq"]["RedriveAllowPolicy"]["redrivePermission"] == "byQueue"


def test_log_groups_keep_the_lifecycles_retention_and_the_audit_trail_outlives_the_stack(stack):
    s = stack()
    log_group(s, "Plain", lifecycle=DEV, name="plain")
    log_group(s, "Audit", lifecycle=DEV, name="audit", audit=True)
    groups = {g["Properties"]["LogGroupName"]: g for g in of_type(s, "AWS::Logs::LogGroup").values()}
    assert groups["plain"]["Properties"]["RetentionInDays"] == 14 and groups["plain"]["DeletionPolicy"] == "Delete"
    assert groups["audit"]["Properties"]["RetentionInDays"] == 365 and groups["audit"]["DeletionPolicy"] == "Retain"
    assert all("KmsKeyId" in g["Properties"] for g in groups.values())
    key = only(s, "AWS::KMS::Key")  # one key for the stack's log groups, rotated, kept with the audit logs
    assert key["Properties"]["EnableKeyRotation"] is True and key["DeletionPolicy"] == "Retain"
