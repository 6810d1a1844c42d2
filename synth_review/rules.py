"""What CloudFormation does with a change, for every resource type.

Which properties force a replacement comes from the CDK's own CloudFormation database, the one
`cdk diff` reads (@aws-cdk/aws-service-spec, shipped in the pinned CLI as
node_modules/aws-cdk/db.json.gz): each property's `causesReplacement` ("yes", or "maybe"), from
the resource specification's update behaviour and the registry schemas' createOnlyProperties.
A property read "maybe" counts as a replacement: the review never reports less than `cdk diff`.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

SPEC_DB = Path(__file__).resolve().parent.parent / "node_modules" / "aws-cdk" / "db.json.gz"


class SpecMissing(Exception):
    pass


@functools.cache
def _replacing() -> dict[str, dict[str, str]]:
    if not SPEC_DB.exists():
        raise SpecMissing(f"{SPEC_DB} is missing: run make setup (the pinned CDK CLI ships CloudFormation's update rules)")
    schema = json.loads(gzip.decompress(SPEC_DB.read_bytes()))["schema"]
    return {resource["cloudFormationType"]: {name: prop["causesReplacement"] for name, prop in resource["properties"].items()
                                             if prop.get("causesReplacement") in ("yes", "maybe")}
            for resource in schema["resource"]["entities"]}


def replacing_properties(type_: str) -> dict[str, str]:
    """The top-level properties of `type_` whose change replaces the resource ("yes") or may
    ("maybe"). A custom resource (Custom::X) follows AWS::CloudFormation::CustomResource."""
    rules = _replacing()
    if type_.startswith("Custom::"):
        type_ = "AWS::CloudFormation::CustomResource"
    return rules.get(type_, {})


# Resources that hold data: replacing or removing one loses it (or orphans it, if retained).
STATEFUL = frozenset({
    "AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Cognito::UserPool",
    "AWS::Logs::LogGroup", "AWS::KMS::Key",
})

# Where policies live: type -> property paths holding a policy document (or a list of them).
POLICY_DOCUMENTS: dict[str, tuple[str, ...]] = {
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::IAM::Role": ("AssumeRolePolicyDocument", "Policies[].PolicyDocument"),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
    "AWS::Logs::ResourcePolicy": ("PolicyDocument",),
}

# (type, property-path prefix) -> why a change there matters for security.
SECURITY_PATHS: dict[str, tuple[tuple[str, str], ...]] = {
    "AWS::DynamoDB::GlobalTable": (("SSESpecification", "table encryption at rest changed"),
                                   ("Replicas", "table replicas changed (PITR, deletion protection or encryption per replica)")),
    "AWS::DynamoDB::Table": (("SSESpecification", "table encryption at rest changed"),),
    "AWS::SQS::Queue": (("SqsManagedSseEnabled", "queue encryption changed"), ("KmsMasterKeyId", "queue encryption changed")),
    "AWS::SNS::Topic": (("KmsMasterKeyId", "topic encryption changed"),),
    "AWS::Logs::LogGroup": (("KmsKeyId", "log group encryption changed"),),
    "AWS::ApiGateway::Method": (("AuthorizationType", "method authorization changed"), ("AuthorizerId", "method authorizer changed")),
    "AWS::ApiGateway::RestApi": (("Policy", "API resource policy changed"), ("EndpointConfiguration", "API endpoint type changed"),
                                 ("DisableExecuteApiEndpoint", "default execute-api endpoint changed")),
    "AWS::ApiGateway::Stage": (("AccessLogSetting", "API access logging changed"), ("MethodSettings", "API execution logging or throttling changed")),
    "AWS::ApiGateway::DomainName": (("SecurityPolicy", "TLS policy of the custom domain changed"),),
    "AWS::Cognito::UserPool": (("MfaConfiguration", "MFA changed"), ("Policies", "password policy changed"),
                               ("AdminCreateUserConfig", "who may sign up changed"), ("UserPoolAddOns", "threat protection changed")),
    "AWS::Cognito::UserPoolClient": (("ExplicitAuthFlows", "sign-in flows changed"),),
    "AWS::Lambda::Function": (("Role", "function role changed"),),
}

# Resources whose addition or removal is itself security-relevant.
SECURITY_TYPES: dict[str, str] = {
    "AWS::ApiGateway::Authorizer": "API authorizer",
    "AWS::WAFv2::WebACL": "WAF web ACL",
    "AWS::WAFv2::WebACLAssociation": "WAF association",
    "AWS::SQS::QueuePolicy": "queue policy (TLS-only)",
    "AWS::SNS::TopicPolicy": "topic policy (TLS-only)",
    "AWS::Lambda::Permission": "function invoke permission",
}

# Churn that means nothing by itself.
IGNORED_TYPES = frozenset({"AWS::CDK::Metadata"})
