"""The CloudFormation execution policy of one stage, and the permissions boundary of its roles.

CloudFormation deploys a stage's stacks with a role of the stage's own CDK bootstrap qualifier;
this is that role's policy. Its actions are what CloudFormation's handlers need for the stage's
resource types (cfn_permissions.json). Each action is scoped as AWS's Service Authorization
Reference (iam_reference.json) allows, per resource type it acts on:

- a resource type whose ARN holds a name Archon gives (a table, a queue, a function, a role...):
  the stage's names only;
- a resource type with a generated id (a key, a user pool, a REST API...) that takes the
  `aws:ResourceTag` condition: resources tagged with the stage and the service only;
- a resource type that is neither, and that Archon creates: listed in UNNAMED with the reason;
- any other resource type: not granted (the stage creates none);
- an action that takes no resource ARN at all (lists, describes, some creates): `*`, listed.

IAM itself gets more: a role may be created or given a policy only with the stage's permissions
boundary (`iam:PermissionsBoundary`), a boundary is never removed, no managed policy is ever
attached, and a role is passed only to the services that run the stage's code.

Plain Python: the CDK construct (deploy_identity.py) turns the statements into managed policies;
`statements_and_report` is what tests and docs/execution-policy.md read.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdk_app.config import SERVICE_NAME, StageConfig

REFERENCE_FILE = Path(__file__).with_name("iam_reference.json")
PARTITION = "${AWS::Partition}"
ACCOUNT = "${AWS::AccountId}"
# IAM's limit on a managed policy document is 6,144 characters without whitespace; the estimate
# below spells the longest partition and a 12-digit account, and keeps a margin.
POLICY_BUDGET = 5_800
# Tags every resource of a stage's stacks carries (stack.py).
TAG_KEYS = ("service", "stage")
# The services that assume the roles the stage's stacks create (a test reads every role's trust).
ROLE_SERVICES = ("lambda.amazonaws.com", "pipes.amazonaws.com", "apigateway.amazonaws.com")
# Service-linked roles CloudFormation's handlers may create for these stacks: the global table's.
LINKED_ROLE_SERVICES = ("replication.dynamodb.amazonaws.com",)
# Resource types Archon creates whose ARNs hold neither a name of Archon's nor take a tag
# condition: granted in the account, each with its reason.
UNNAMED = {
    "route53:healthcheck": "Route 53 generates health check ids and takes no tag condition on them",
    "route53:change": "a Route 53 change id exists only once a record change is made; reading it is all that is granted",
    "wafv2:managedruleset": "the AWS managed rule groups the web ACL references, which AWS names",
    "wafv2:apigateway": "the API stage the web ACL is attached to: its REST API id is generated and WAF takes no tag "
                        "condition on it (API Gateway's own side, apigateway:SetWebACL, is tag-scoped)",
}
# Actions never granted, whatever a handler lists.
NEVER = {
    "iam:AttachRolePolicy": "no role of Archon's has a managed policy; AdministratorAccess could be attached otherwise",
    "iam:DeleteRolePermissionsBoundary": "a role keeps the stage's permissions boundary for its whole life",
}


def stage_tagged(stage: StageConfig) -> dict[str, Any]:
    """The condition that a resource carries the stage's and the service's tags (stack.py)."""
    return {"StringEquals": {f"aws:ResourceTag/{key}": value for key, value in zip(TAG_KEYS, (SERVICE_NAME, stage.name))}}


def stage_names(stage: StageConfig) -> dict[str, dict[str, list[str]]]:
    """Per service, the Service Authorization Reference's ARN variables and the stage's values of
    them (globs). CloudFormation names what Archon leaves unnamed `<stack name>-<logical id>-<suffix>`,
    and every stack of the stage is named archon-<stage>-<region> (stack.py): archon-<stage>-*."""
    named = stage.names
    generated, functions = named.prefixed("*"), named.function("*")
    names: dict[str, dict[str, list[str]]] = {
        "dynamodb": {"TableName": [named.table], "GlobalTableName": [named.table]},
        "sqs": {"QueueName": [named.queue, f"{named.queue}-dlq", named.outbox_dead_letter_queue, generated]},
        "iam": {"RoleNameWithPath": [generated]},
        "lambda": {"FunctionName": [functions, generated], "LayerName": [generated]},
        "logs": {"LogGroupName": [f"/aws/lambda/{functions}", f"/aws/lambda/{generated}", generated, f"aws-waf-logs-{generated}"]},
        "pipes": {"Name": [named.outbox_pipe]},
        "sns": {"TopicName": [generated]},
        "cloudwatch": {"AlarmName": [generated], "DashboardName": [generated], "InsightRuleName": [generated]},
        "wafv2": {"Scope": ["regional"], "Name": [generated]},
        "ses": {"IdentityName": [stage.sender, stage.sender.split("@", 1)[1]]},
        "s3": {"BucketName": [f"cdk-{stage.cdk_qualifier}-assets-{ACCOUNT}-*"]},
        "secretsmanager": {"SecretId": [f"{named.secret_prefix}*"]},
    }
    if stage.domain is not None:
        names["route53"] = {"Id": [stage.domain.hosted_zone_id]}
    return names


# Resource types with generated ids that the stage creates and that take aws:ResourceTag.
TAGGED = ("apigateway:*", "kms:key", "cognito-idp:userpool", "acm:certificate", "lambda:eventsourcemapping",
          "wafv2:webacl", "application-autoscaling:scalabletarget")

_VARIABLE = re.compile(r"\$\{([A-Za-z]+)\}")


@dataclass
class Report:
    """What the policy leaves at `*` and what it leaves out, each with its reason."""

    unscoped: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    unnamed: dict[str, str] = field(default_factory=dict)


@functools.cache
def _reference() -> dict[str, Any]:
    return json.loads(REFERENCE_FILE.read_text())


def _arn(template: str, values: dict[str, str]) -> str:
    fixed = {"Partition": PARTITION, "Account": ACCOUNT, "Region": "*"}
    return _VARIABLE.sub(lambda m: values.get(m.group(1), fixed.get(m.group(1), "*")), template)


def _scope(rtype: str, resource: dict[str, Any], action_conditions: list[str], names: dict[str, dict[str, list[str]]],
           stage: StageConfig) -> tuple[list[str], dict[str, Any]] | str:
    """The ARNs and condition one action gets on one resource type, or why it gets none."""
    service = rtype.split(":")[0]
    arns: list[str] = []
    for template in resource["arns"]:
        known = names.get(template.split(":")[2], {})  # the ARN's own service, which may be another's
        variables = [v for v in _VARIABLE.findall(template) if v not in ("Partition", "Account", "Region")]
        if not variables:
            arns.append(_arn(template, {}))
            continue
        # Named only where the outermost name is Archon's (a table's index, not any API's stage "prod").
        if variables[0] in known:
            named = [v for v in variables if v in known]
            for combo in itertools.product(*(known[v] for v in named)):
                arns.append(_arn(template, dict(zip(named, combo))))
    if arns:
        return arns, {}
    tag_condition = any(c.startswith("aws:ResourceTag/") for c in resource["conditions"] + action_conditions)
    if tag_condition and (rtype in TAGGED or f"{service}:*" in TAGGED):
        return [_arn(t, {}) for t in resource["arns"]], stage_tagged(stage)
    if rtype in UNNAMED:
        return [_arn(t, {}) for t in resource["arns"]], {}
    return "acts only on resources the stage does not create, or that it cannot name or tag"


def _extra_conditions(action: str, conditions: list[str], stage: StageConfig) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if "iam:PermissionsBoundary" in conditions:
        extra["StringEquals"] = {"iam:PermissionsBoundary": f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{stage.names.boundary}"}
    if action == "iam:PassRole":
        extra["StringEquals"] = {"iam:PassedToService": list(ROLE_SERVICES)}
    if action == "iam:CreateServiceLinkedRole":
        extra["StringEquals"] = {"iam:AWSServiceName": list(LINKED_ROLE_SERVICES)}
    return extra


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    merged = {op: dict(keys) for op, keys in a.items()}
    for op, keys in b.items():
        merged.setdefault(op, {}).update(keys)
    return merged


def statements_and_report(stage: StageConfig, actions: list[str]) -> tuple[list[dict[str, Any]], Report]:
    """The execution policy's statements for `actions` (as handlers name them, families included),
    with placeholders ${AWS::Partition} and ${AWS::AccountId}, and the report of what is at `*`."""
    reference = _reference()
    names = stage_names(stage)
    report = Report()
    grants: dict[tuple[tuple[str, ...], str], set[str]] = {}

    def grant(action: str, arns: list[str], condition: dict[str, Any]) -> None:
        grants.setdefault((tuple(sorted(set(arns))), json.dumps(condition, sort_keys=True)), set()).add(action)

    expanded: set[str] = set()
    for named in actions:
        pattern = re.compile("^" + re.escape(named).replace("\\*", "[A-Za-z]*") + "$", re.IGNORECASE)
        matched = [a for a in reference["actions"] if pattern.match(a)]
        expanded.update(matched or [named])
    for action in sorted(expanded):
        entry = reference["actions"].get(action)
        if action in NEVER:
            report.left_out[action] = NEVER[action]
            continue
        if entry is None or entry["level"] == "Unknown":
            report.left_out[action] = "not in the Service Authorization Reference, so IAM would not match it"
            continue
        extra = _extra_conditions(action, entry["conditions"], stage)
        if action == "iam:CreateServiceLinkedRole":
            grant(action, [f"arn:{PARTITION}:iam::{ACCOUNT}:role/aws-service-role/*"], extra)
            continue
        if not entry["resources"]:
            report.unscoped[action] = "takes no resource ARN (Service Authorization Reference)"
            grant(action, ["*"], extra)
            continue
        reasons = []
        for rtype in entry["resources"]:
            scoped = _scope(rtype, reference["resources"][rtype], entry["conditions"], names, stage)
            if isinstance(scoped, str):
                reasons.append(f"{rtype}: {scoped}")
                continue
            arns, condition = scoped
            if rtype in UNNAMED:
                report.unnamed[f"{action} on {rtype}"] = UNNAMED[rtype]
            grant(action, arns, _merge(condition, extra))
        if len(reasons) == len(entry["resources"]):
            if entry["required"]:
                report.left_out[action] = "; ".join(reasons)
            else:  # every resource type is optional: a call on none of them is authorized on `*`
                report.unscoped[action] = "acts on none of the stage's resources it could name (its resource types are optional)"
                grant(action, ["*"], extra)
    statements = [
        {"Effect": "Allow", "Action": sorted(acts), "Resource": list(arns), **({"Condition": json.loads(cond)} if cond != "{}" else {})}
        for (arns, cond), acts in sorted(grants.items(), key=lambda item: (item[0][0], item[0][1]))
    ]
    return statements, report


def guard_statements(stage: StageConfig) -> list[dict[str, Any]]:
    """Denials that hold whatever else a policy of the stage allows: no boundary is removed, and the
    boundary and execution policies are never rewritten through a stack."""
    own = [f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{stage.names.boundary}",
           f"arn:{PARTITION}:iam::{ACCOUNT}:policy/archon-cfn-execution-{stage.name}-*"]
    return [
        {"Effect": "Deny", "Action": ["iam:DeleteRolePermissionsBoundary"], "Resource": "*"},
        {"Effect": "Deny", "Action": ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                                       "iam:SetDefaultPolicyVersion"], "Resource": own},
    ]


def boundary_statements(stage: StageConfig) -> list[dict[str, Any]]:
    """The most any role the stage's stacks create may do: the calls its functions, its Pipe, its
    API's logging and its custom resources make, on the stage's resources; nothing on IAM."""
    names = stage_names(stage)
    table = f"arn:{PARTITION}:dynamodb:*:{ACCOUNT}:table/{stage.table_name}"
    queues = [f"arn:{PARTITION}:sqs:*:{ACCOUNT}:{q}" for q in names["sqs"]["QueueName"]]
    tagged = stage_tagged(stage)
    return [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                                       "dynamodb:ConditionCheckItem", "dynamodb:Query", "dynamodb:DescribeTable",
                                       "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
         "Resource": [table, f"{table}/*"]},
        {"Effect": "Allow", "Action": ["dynamodb:ListStreams"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                                       "sqs:GetQueueAttributes", "sqs:GetQueueUrl"], "Resource": queues},
        {"Effect": "Allow", "Action": ["ses:SendEmail", "ses:SendRawEmail"],
         "Resource": f"arn:{PARTITION}:ses:*:{ACCOUNT}:*"},
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams",
                                       "logs:PutLogEvents", "logs:GetLogEvents", "logs:FilterLogEvents"],
         "Resource": f"arn:{PARTITION}:logs:*:{ACCOUNT}:*"},
        # Takes no resource ARN (API Gateway's logging role lists the account's log groups).
        {"Effect": "Allow", "Action": ["logs:DescribeLogGroups"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords",
                                       "xray:GetSamplingRules", "xray:GetSamplingTargets"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKey*",
                                       "kms:ReEncrypt*", "kms:DescribeKey"],
         "Resource": f"arn:{PARTITION}:kms:*:{ACCOUNT}:key/*", "Condition": tagged},
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": f"arn:{PARTITION}:secretsmanager:*:{ACCOUNT}:secret:{stage.names.cursor_key_secret}-*"},
        {"Effect": "Allow", "Action": ["cognito-idp:DescribeUserPoolClient"],
         "Resource": f"arn:{PARTITION}:cognito-idp:*:{ACCOUNT}:userpool/*", "Condition": tagged},
    ]


def policy_size(statements: list[dict[str, Any]]) -> int:
    """A document's size as IAM counts it (no whitespace), with the placeholders as long as
    their longest value."""
    text = json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))
    return len(text.replace(PARTITION, "aws-us-gov").replace(ACCOUNT, "123456789012"))


def documents(statements: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The statements split into managed policies under IAM's size limit."""
    chunks: list[list[dict[str, Any]]] = [[]]
    for statement in statements:
        if chunks[-1] and policy_size(chunks[-1] + [statement]) > POLICY_BUDGET:
            chunks.append([])
        chunks[-1].append(statement)
    for chunk in chunks:
        if policy_size(chunk) > POLICY_BUDGET:
            raise ValueError(f"one statement is over IAM's managed policy size: {chunk[0]['Action'][:3]}...")
    return chunks


def report_markdown(stage: StageConfig, actions: list[str]) -> str:
    _, report = statements_and_report(stage, actions)
    lines = [f"### {stage.name}", "", "| action | at `*` because |", "|---|---|"]
    lines += [f"| `{a}` | {why} |" for a, why in sorted(report.unscoped.items())]
    lines += ["", "| action on resource type | unnamed because |", "|---|---|"]
    lines += [f"| `{a}` | {why} |" for a, why in sorted(report.unnamed.items())]
    lines += ["", "| action left out | because |", "|---|---|"]
    lines += [f"| `{a}` | {why} |" for a, why in sorted(report.left_out.items())]
    return "\n".join(lines) + "\n"


def refused_access(stage: StageConfig, others: list[StageConfig], *, account: str, partition: str) -> list[dict[str, list[str]]]:
    """Accesses none of the stage's deploy policies may grant, as IAM Access Analyzer's
    check-access-not-granted takes them (scripts/access_analyzer_checks.py; the tests evaluate
    the same list offline)."""
    arn = lambda service, region, rest: f"arn:{partition}:{service}:{region}:{account}:{rest}"  # noqa: E731
    foreign_role = f"arn:{partition}:iam::{account}:role/not-archon"
    refused = [
        {"actions": ["iam:CreateUser", "iam:PutUserPolicy", "iam:AttachUserPolicy", "iam:CreateAccessKey",
                     "iam:PutGroupPolicy", "iam:AttachGroupPolicy", "iam:AddUserToGroup"]},
        {"actions": ["iam:AttachRolePolicy", "iam:DeleteRolePermissionsBoundary"]},
        {"actions": ["iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:PassRole", "iam:DeleteRole"], "resources": [foreign_role]},
    ]
    for other in others:
        region = other.primary_region
        refused += [
            {"actions": ["dynamodb:Scan", "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:DeleteTable"],
             "resources": [arn("dynamodb", region, f"table/{other.table_name}")]},
            {"actions": ["sqs:SetQueueAttributes", "sqs:DeleteQueue"], "resources": [arn("sqs", region, other.queue_name)]},
            {"actions": ["lambda:UpdateFunctionCode", "lambda:DeleteFunction"],
             "resources": [arn("lambda", region, f"function:archon-users-api-{other.name}")]},
            {"actions": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
             "resources": [arn("secretsmanager", region, f"secret:{other.names.e2e_secret(region)}-AbCdEf")]},
            {"actions": ["s3:GetObject", "s3:PutObject"],
             "resources": [f"arn:{partition}:s3:::cdk-{other.cdk_qualifier}-assets-{account}-{region}/asset.zip"]},
            {"actions": ["s3:PutBucketPolicy"], "resources": [f"arn:{partition}:s3:::cdk-{other.cdk_qualifier}-assets-{account}-{region}"]},
        ]
    return refused
