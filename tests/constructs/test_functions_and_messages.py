"""ServiceFunction, WelcomeNotifications and OutboxPipe, each on a bare stack."""

from __future__ import annotations

import json

from aws_cdk import aws_sqs as sqs

from cdk_app.config import FunctionConfig
from cdk_app.functions import ServiceFunction
from cdk_app.notifications import WelcomeNotifications
from cdk_app.outbox import MESSAGE_TEMPLATE, OutboxPipe
from tests.constructs.conftest import DEV, layer, of_type, only
from users import contract

SIZING = FunctionConfig(memory_mb=256, timeout_seconds=20, snap_start=False)


def test_a_function_has_its_own_role_log_group_and_the_stage_in_its_environment(stack):
    s = stack()
    function = ServiceFunction(s, "Fn", lifecycle=DEV, name="thing", function_name="archon-thing-dev", handler="handlers.x.handler",
                               sizing=SIZING, layer=layer(s), environment={"EXTRA": "1"}, description="A thing")
    props = only(s, "AWS::Lambda::Function")["Properties"]
    assert props["FunctionName"] == "archon-thing-dev" and props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 256 and props["Timeout"] == 20 and props["TracingConfig"] == {"Mode": "Active"}
    env = props["Environment"]["Variables"]
    assert env["STAGE"] == "dev" and env["EXTRA"] == "1" and env["POWERTOOLS_SERVICE_NAME"] == "thing"
    assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert only(s, "AWS::Logs::LogGroup")["Properties"]["LogGroupName"] == "/aws/lambda/archon-thing-dev"
    assert only(s, "AWS::IAM::Role")["Properties"].get("ManagedPolicyArns") is None
    assert function.entry_point is function.function  # no SnapStart: $LATEST


def test_with_snap_start_callers_invoke_an_alias_on_the_published_version(stack):
    s = stack()
    function = ServiceFunction(s, "Fn", lifecycle=DEV, name="thing", function_name="archon-thing-dev", handler="handlers.x.handler",
                               sizing=FunctionConfig(memory_mb=256, timeout_seconds=20, snap_start=True), layer=layer(s),
                               environment={}, description="A thing")
    assert only(s, "AWS::Lambda::Alias")["Properties"]["Name"] == "live"
    assert function.entry_point is not function.function


def test_the_processor_sends_only_as_the_sender_and_marks_only_user_items(stack):
    s = stack()
    WelcomeNotifications(s, "Notifications", lifecycle=DEV, queue_name="notifications-x", function_name="archon-notifications-x",
                         sizing=SIZING, sender="welcome@example.com", layer=layer(s), table_name="users-x",
                         table_arn="arn:aws:dynamodb:us-east-1:111111111111:table/users-x")
    env = only(s, "AWS::Lambda::Function")["Properties"]["Environment"]["Variables"]
    assert env[contract.ENV_TABLE_NAME] == "users-x" and env[contract.ENV_SENDER_ADDRESS] == "welcome@example.com"
    assert env[contract.ENV_DELIVERY_LEASE_SECONDS] == "40"  # twice the timeout
    statements = [st for p in of_type(s, "AWS::IAM::Policy").values() for st in p["Properties"]["PolicyDocument"]["Statement"]]
    ses = next(st for st in statements if st["Action"] == "ses:SendEmail")
    assert ses["Condition"] == {"StringEquals": {"ses:FromAddress": "welcome@example.com"}}
    mark = next(st for st in statements if st["Action"] == "dynamodb:UpdateItem")
    assert mark["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == [f"{contract.USER_PREFIX}*"]
    mapping = only(s, "AWS::Lambda::EventSourceMapping")["Properties"]
    assert mapping["BatchSize"] == 10 and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_outbox_forwards_this_regions_new_users_as_the_welcome_message(stack):
    s = stack()
    queue = sqs.Queue(s, "Target")
    OutboxPipe(s, "Outbox", lifecycle=DEV, pipe_name="archon-outbox-x", dead_letter_queue_name="outbox-x-dlq",
               stream_arn="arn:aws:dynamodb:us-east-1:111111111111:table/users-x/stream/2026", queue=queue)
    pipe = only(s, "AWS::Pipes::Pipe")["Properties"]
    assert pipe["Name"] == "archon-outbox-x" and pipe["TargetParameters"]["InputTemplate"] == MESSAGE_TEMPLATE
    (pattern,) = pipe["SourceParameters"]["FilterCriteria"]["Filters"]
    image = json.loads(pattern["Pattern"])["dynamodb"]["NewImage"]
    assert image == {contract.LIST_INDEX_PARTITION: {"S": [contract.USER_ENTITY]}, contract.REGION_ATTRIBUTE: {"S": ["us-east-1"]}}
    stream = pipe["SourceParameters"]["DynamoDBStreamParameters"]
    assert stream["MaximumRetryAttempts"] == 10 and "DeadLetterConfig" in stream
    trust = only(s, "AWS::IAM::Role")["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert "archon-outbox-x" in json.dumps(trust["Condition"])
    names = {q.get("Properties", {}).get("QueueName") for q in of_type(s, "AWS::SQS::Queue").values()}
    assert "outbox-x-dlq" in names


def test_the_message_template_writes_exactly_the_contracts_fields():
    filled = MESSAGE_TEMPLATE.replace("<$.dynamodb.NewImage.user_id.S>", "u").replace("<$.dynamodb.NewImage.email.S>", "e")
    assert json.loads(filled) == {"type": contract.WELCOME_MESSAGE_TYPE, "user_id": "u", "email": "e"}
    assert tuple(json.loads(filled)) == contract.WELCOME_MESSAGE_FIELDS
