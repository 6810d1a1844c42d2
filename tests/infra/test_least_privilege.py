"""Every IAM statement in every synthesised template, walked: no wildcard actions, no '*'
resources except where AWS requires them, and each role holds exactly what its code uses."""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest

from tests.infra.conftest import only, resources
from users import contract

# Actions AWS offers no resource-level permissions for, and so must be granted on '*'.
STAR_RESOURCE_ALLOWED = {
    "xray:PutTraceSegments": "X-Ray supports no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray supports no resource-level permissions",
    "dynamodb:ListStreams": "no resource-level permissions; EventBridge Pipes needs it for a stream source",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def iam_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Identity-policy statements (Allow and Deny) of every policy and inline role policy."""
    for logical_id, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            docs = [props["PolicyDocument"]]
        elif res["Type"] == "AWS::IAM::Role":
            docs = [p["PolicyDocument"] for p in props.get("Policies", [])]
        else:
            continue
        for doc in docs:
            for statement in doc["Statement"]:
                yield logical_id, statement


def wildcard_violations(template: dict[str, Any]) -> list[str]:
    problems = []
    for logical_id, st in iam_statements(template):
        actions = _as_list(st.get("Action", []))
        for action in actions:
            if "*" in action:
                problems.append(f"{logical_id}: wildcard action {action}")
        if st.get("Effect") == "Allow" and "*" in _as_list(st.get("Resource", [])):
            for action in actions:
                if action not in STAR_RESOURCE_ALLOWED:
                    problems.append(f"{logical_id}: {action} on Resource '*'")
        if "NotAction" in st or "NotResource" in st:
            problems.append(f"{logical_id}: NotAction/NotResource")
    return problems


def test_no_wildcards_in_any_template(synth):
    problems = {name: wildcard_violations(t) for name, t in synth.templates.items()}
    assert {k: v for k, v in problems.items() if v} == {}


def test_the_walker_catches_a_widened_statement():
    template = {"Resources": {"P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:us-east-1:1:table/t"},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
    ]}}}}}
    assert wildcard_violations(template) == ["P: wildcard action dynamodb:*", "P: s3:GetObject on Resource '*'"]


def role_actions(template: dict[str, Any], function_name: str | None = None, role_id: str | None = None) -> dict[str, Any]:
    """action -> list of resources granted to a role (found by function name or logical id)."""
    if function_name:
        role_id = only(template, "AWS::Lambda::Function", FunctionName=function_name)["Properties"]["Role"]["Fn::GetAtt"][0]
    granted: dict[str, list[Any]] = {}
    for logical_id, res in resources(template, "AWS::IAM::Policy").items():
        if {"Ref": role_id} in res["Properties"]["Roles"]:
            for st in res["Properties"]["PolicyDocument"]["Statement"]:
                for action in _as_list(st["Action"]):
                    granted.setdefault(action, []).append(st)
    return granted


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_users_api_role_has_exactly_its_dynamodb_calls_and_no_sqs(synth, stage):
    granted = role_actions(synth.template(stage), function_name=f"archon-users-api-{stage}")
    assert set(granted) == {
        "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
        "logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
        "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret",  # the cursor key, and no other secret
    }
    assert not any(a.startswith("sqs:") for a in granted)
    (read_key,) = granted["secretsmanager:GetSecretValue"]
    assert read_key["Resource"] == {"Ref": read_key["Resource"]["Ref"]} and read_key["Resource"]["Ref"].startswith("CursorKeySecret")
    (query,) = granted["dynamodb:Query"]
    assert query["Resource"]["Fn::Join"][1][-1] == "/index/by_creation"
    (put,) = granted["dynamodb:PutItem"]
    assert put["Resource"] == {"Fn::GetAtt": [put["Resource"]["Fn::GetAtt"][0], "Arn"]}


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_users_api_writes_only_its_own_kinds_of_item(synth, stage):
    """Users, email guards, per-caller quotas and its Powertools idempotency records, which
    Powertools keys "<function name>.<module>.<function>#<hash>" (lambda_src/handlers/users_api.py)."""
    for region in synth.stages[stage].aws_regions:
        granted = role_actions(synth.template(stage, region), function_name=f"archon-users-api-{stage}")
        for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"):
            (statement,) = granted[action]
            assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [
                f"{contract.USER_PREFIX}*", f"{contract.EMAIL_PREFIX}*", f"{contract.QUOTA_PREFIX}*", f"archon-users-api-{stage}.*"]}}


def _region_of(arn: Any) -> str:
    """The region a DynamoDB ARN names: written out in a joined ARN, or "(this region)" for a
    reference to the stack's own table."""
    text = "".join(p for p in arn["Fn::Join"][1] if isinstance(p, str)) if isinstance(arn, dict) and "Fn::Join" in arn else ""
    found = re.search(r":dynamodb:([a-z0-9-]+):", text)
    return found.group(1) if found else "(this region)"


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_every_regions_create_path_points_at_the_write_region(synth, stage):
    """Creates commit in the stage's write region from every region (adapters.aws.users_table): the
    function is told the region, and its write grants name that region's replica only; reads
    stay on the local replica."""
    cfg = synth.stages[stage]
    for region in cfg.aws_regions:
        template = synth.template(stage, region)
        function = only(template, "AWS::Lambda::Function", FunctionName=f"archon-users-api-{stage}")
        assert function["Properties"]["Environment"]["Variables"][contract.ENV_WRITE_REGION] == cfg.write_region
        granted = role_actions(template, function_name=f"archon-users-api-{stage}")
        for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"):
            (statement,) = granted[action]
            expected = "(this region)" if region == cfg.write_region else cfg.write_region
            assert _region_of(statement["Resource"]) == expected, (region, action, statement["Resource"])
        (query,) = granted["dynamodb:Query"]
        local = "(this region)" if region == cfg.primary_region else region  # the primary's stack owns the table
        assert _region_of(query["Resource"]) == local
        reads = sorted(_region_of(r) for st in granted["dynamodb:GetItem"] for r in _as_list(st["Resource"]))
        assert reads == (["(this region)"] if region == cfg.write_region else sorted([cfg.write_region, local]))


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_processor_role_sends_only_as_the_sender_and_updates_only_user_items(synth, stage):
    cfg = synth.stages[stage]
    granted = role_actions(synth.template(stage), function_name=f"archon-notifications-{stage}")
    assert set(granted) == {
        "dynamodb:UpdateItem", "ses:SendEmail",
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
        "logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
    }
    (ses,) = granted["ses:SendEmail"]
    assert ses["Condition"] == {"StringEquals": {"ses:FromAddress": cfg.sender}}
    identities = [r["Fn::Join"][1][-1] for r in ses["Resource"]]
    assert sorted(identities) == sorted([f":identity/{cfg.sender}", f":identity/{cfg.sender.split('@')[1]}"])
    (update,) = granted["dynamodb:UpdateItem"]
    assert update["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{contract.USER_PREFIX}*"]}}
    (receive,) = granted["sqs:ReceiveMessage"]
    assert receive["Resource"]["Fn::GetAtt"][0].startswith("NotificationsQueue")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_pipe_role_reads_the_stream_and_sends_to_its_queues_only(synth, stage):
    template = synth.template(stage)
    role_id = only(template, "AWS::Pipes::Pipe")["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    granted = role_actions(template, role_id=role_id)
    assert set(granted) == {
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
        "sqs:SendMessage", "logs:CreateLogStream", "logs:PutLogEvents",
    }
    (read,) = granted["dynamodb:GetRecords"]
    assert read["Resource"]["Fn::GetAtt"][1] == "StreamArn"
    (send,) = granted["sqs:SendMessage"]
    assert sorted(r["Fn::GetAtt"][0][:12] for r in send["Resource"]) == ["Notification", "OutboxDeadLe"]
    trust = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "pipes.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
