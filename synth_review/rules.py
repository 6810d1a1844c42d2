"""What CloudFormation does with a change, for the resource types Archon uses.

REPLACEMENT lists, per type, the properties whose change makes CloudFormation create a new
resource and delete the old one ("Update requires: Replacement" in the CloudFormation reference).
"""

from __future__ import annotations

REPLACEMENT: dict[str, frozenset[str]] = {
    "AWS::DynamoDB::GlobalTable": frozenset({"TableName", "KeySchema", "LocalSecondaryIndexes"}),
    "AWS::DynamoDB::Table": frozenset({"TableName", "KeySchema", "LocalSecondaryIndexes", "ImportSourceSpecification"}),
    "AWS::SQS::Queue": frozenset({"QueueName", "FifoQueue"}),
    "AWS::SNS::Topic": frozenset({"TopicName", "FifoTopic"}),
    "AWS::Lambda::Function": frozenset({"FunctionName", "PackageType"}),
    "AWS::Lambda::LayerVersion": frozenset({"Content", "CompatibleRuntimes", "CompatibleArchitectures", "Description", "LayerName", "LicenseInfo"}),
    "AWS::Lambda::EventSourceMapping": frozenset({"EventSourceArn", "StartingPosition", "StartingPositionTimestamp", "SelfManagedEventSource"}),
    "AWS::Lambda::Permission": frozenset({"Action", "FunctionName", "Principal", "SourceArn", "SourceAccount", "EventSourceToken"}),
    "AWS::Cognito::UserPool": frozenset({"AliasAttributes", "UsernameAttributes", "UsernameConfiguration", "Schema"}),
    "AWS::Cognito::UserPoolClient": frozenset({"UserPoolId", "GenerateSecret"}),
    "AWS::Logs::LogGroup": frozenset({"LogGroupName"}),
    "AWS::IAM::Role": frozenset({"RoleName", "Path"}),
    "AWS::KMS::Key": frozenset({"KeySpec", "KeyUsage", "MultiRegion"}),
    "AWS::Pipes::Pipe": frozenset({"Name", "Source"}),
    "AWS::ApiGateway::Resource": frozenset({"ParentId", "PathPart", "RestApiId"}),
    "AWS::ApiGateway::Method": frozenset({"HttpMethod", "ResourceId", "RestApiId"}),
    "AWS::ApiGateway::Stage": frozenset({"StageName", "RestApiId"}),
    "AWS::ApiGateway::Authorizer": frozenset({"RestApiId", "Type"}),
    "AWS::ApiGateway::Model": frozenset({"ContentType", "Name", "RestApiId"}),
    "AWS::ApiGateway::DomainName": frozenset({"DomainName"}),
    "AWS::ApiGateway::BasePathMapping": frozenset({"DomainName"}),
    "AWS::SES::EmailIdentity": frozenset({"EmailIdentity"}),
    "AWS::CloudWatch::Alarm": frozenset({"AlarmName"}),
    "AWS::CloudWatch::Dashboard": frozenset({"DashboardName"}),
    "AWS::WAFv2::WebACL": frozenset({"Name", "Scope"}),
    "AWS::WAFv2::WebACLAssociation": frozenset({"ResourceArn", "WebACLArn"}),
    "AWS::CertificateManager::Certificate": frozenset({"DomainName", "SubjectAlternativeNames", "ValidationMethod", "DomainValidationOptions", "KeyAlgorithm"}),
    "AWS::Route53::RecordSet": frozenset({"Name", "HostedZoneId", "HostedZoneName", "SetIdentifier"}),
}

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
