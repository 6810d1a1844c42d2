"""The local twins of the template's resources: the table, queues, user pool, sender identity
and generated secrets, created in the emulator as a deployment would create them."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from local_runner.emulator import Emulator
from local_runner.wiring import ACCOUNT, Wiring, WiringError


@dataclass(frozen=True)
class LocalClient:
    """An app client of the emulated user pool, as the template defines it."""

    client_id: str
    secret: str | None
    scopes: tuple[str, ...]
    access_token_minutes: int


@dataclass
class LocalResources:
    """What the template's logical ids became in the emulator."""

    region: str
    table_name: str
    stream_arn: str | None
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    user_pool_id: str = ""
    clients: dict[str, LocalClient] = field(default_factory=dict)  # client logical id -> its local twin

    def resolve(self, value: Any, wiring: Wiring, where: str) -> str:
        """A function environment value, with references to resources replaced by their local twins."""
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and "Ref" in value:
            target = value["Ref"]
            pseudo = {"AWS::Region": self.region, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
            if target in pseudo:
                return pseudo[target]
            if target == wiring.table.logical_id:
                return self.table_name
            if target in self.queue_urls:
                return self.queue_urls[target]
            if target == wiring.user_pool.logical_id:
                return self.user_pool_id
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            target, attribute = value["Fn::GetAtt"]
            if target in self.queue_arns and attribute == "Arn":
                return self.queue_arns[target]
            if target in self.queue_urls and attribute == "QueueName":
                return wiring.queues[target].name
            if target == wiring.table.logical_id and attribute == "StreamArn" and self.stream_arn:
                return self.stream_arn
        if isinstance(value, dict) and "Fn::Join" in value:
            sep, parts = value["Fn::Join"]
            return sep.join(self.resolve(p, wiring, where) for p in parts)
        raise WiringError(f"{where}: cannot resolve {json.dumps(value)} locally")


def provision(emulator: Emulator, wiring: Wiring) -> LocalResources:
    """Creates the template's table, queues, user pool and sender identity in the emulator."""
    table = wiring.table
    dynamodb = emulator.client("dynamodb")
    create: dict[str, Any] = dict(
        TableName=table.name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=table.attributes, KeySchema=table.key_schema)
    if table.indexes:
        create["GlobalSecondaryIndexes"] = table.indexes
    if table.stream_view:
        create["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream_view}
    described = dynamodb.create_table(**create)["TableDescription"]
    if table.ttl_attribute:
        dynamodb.update_time_to_live(TableName=table.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute})
    resources = LocalResources(region=wiring.region, table_name=table.name, stream_arn=described.get("LatestStreamArn"))

    sqs = emulator.client("sqs")
    # Dead-letter queues first: a redrive policy names its target's ARN.
    for spec in sorted(wiring.queues.values(), key=lambda q: q.dead_letter_logical_id is not None):
        attributes = {"VisibilityTimeout": str(spec.visibility_timeout), "MessageRetentionPeriod": str(spec.retention_seconds)}
        if spec.dead_letter_logical_id:
            attributes["RedrivePolicy"] = json.dumps({
                "deadLetterTargetArn": resources.queue_arns[spec.dead_letter_logical_id], "maxReceiveCount": spec.max_receive_count})
        url = sqs.create_queue(QueueName=spec.name, Attributes=attributes)["QueueUrl"]
        resources.queue_urls[spec.logical_id] = url
        resources.queue_arns[spec.logical_id] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    pool = wiring.user_pool
    cognito = emulator.client("cognito-idp")
    policy = {k: v for k, v in pool.password_policy.items() if k != "TemporaryPasswordValidityDays"}
    resources.user_pool_id = cognito.create_user_pool(
        PoolName=pool.name, UsernameAttributes=pool.username_attributes, Policies={"PasswordPolicy": policy})["UserPool"]["Id"]
    for identifier, scopes in pool.resource_servers.items():
        cognito.create_resource_server(UserPoolId=resources.user_pool_id, Identifier=identifier, Name=identifier, Scopes=scopes)
    for client in pool.clients:
        created = cognito.create_user_pool_client(
            UserPoolId=resources.user_pool_id, ClientName=client.name, GenerateSecret=client.generate_secret,
            ExplicitAuthFlows=client.auth_flows, AllowedOAuthFlows=client.oauth_flows, AllowedOAuthScopes=client.scopes,
            AllowedOAuthFlowsUserPoolClient=bool(client.oauth_flows))["UserPoolClient"]
        resources.clients[client.logical_id] = LocalClient(
            client_id=created["ClientId"], secret=created.get("ClientSecret"), scopes=tuple(client.scopes),
            access_token_minutes=client.access_token_minutes)

    ses = emulator.client("ses")
    for identity in wiring.email_identities:
        ses.verify_email_identity(EmailAddress=identity)
    secretsmanager = emulator.client("secretsmanager")
    for name, (template, key, length) in wiring.generated_secrets.items():
        # As Secrets Manager generates it: the template with one random value, new for each run.
        secretsmanager.create_secret(Name=name, SecretString=json.dumps({**template, key: secrets.token_urlsafe(length)[:length]}))
    return resources
