"""Two regions' users API functions against one global table's replicas (tests/unit/replication.py
says what of the replication is emulated), racing one mailbox from both regions: exactly one
user and one welcome email, because every create commits in the stage's one write region."""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from cdk_app.outbox import MESSAGE_TEMPLATE, outbox_filter
from local_runner.moto_compat import event_pattern, sent_emails
from tests.aws_tables import create_users_table
from tests.unit.conftest import SENDER
from tests.unit.events import api_event
from tests.unit.replication import Replication, StreamReader
from tests.unit.api_calls import Reply, assert_error
from tests.unit.test_api_create import ONE_MAILBOX
from users import contract

TABLE = "users-global"
PRIMARY, SECONDARY = "us-east-1", "eu-west-1"
REGIONS = [PRIMARY, SECONDARY]
HANDLER = Path(__file__).resolve().parents[2] / "lambda_src" / "handlers" / "users_api.py"
LAG_SECONDS = 1.0  # DynamoDB global tables typically replicate within a second


def load_users_api(region: str, write_region: str | None) -> ModuleType:
    """The users API function as `region` runs it: its own module, clients and configuration."""
    env = {"AWS_REGION": region, "AWS_DEFAULT_REGION": region, contract.ENV_TABLE_NAME: TABLE, contract.ENV_WRITE_REGION: write_region or ""}
    with mock.patch.dict(os.environ, env):
        spec = importlib.util.spec_from_file_location(f"users_api_{region.replace('-', '_')}", HANDLER)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


@pytest.fixture
def replicas(aws: Any) -> Replication:
    for region in REGIONS:
        client = boto3.client("dynamodb", region_name=region)
        if TABLE in client.list_tables()["TableNames"]:
            client.delete_table(TableName=TABLE)
        create_users_table(client, aws.table_spec, TABLE, stream=True)
        boto3.client("ses", region_name=region).verify_email_identity(EmailAddress=SENDER)
    return Replication(table=TABLE, regions=REGIONS, lag_seconds=LAG_SECONDS)


def users(region: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb", region_name=region).scan(TableName=TABLE)["Items"]
    return [i for i in items if i[contract.PARTITION_KEY]["S"].startswith(contract.USER_PREFIX)]


def outbox(region: str) -> list[str]:
    """What the region's outbox Pipe sends: its stream's records that match its filter, each
    written through its input template, as the local runner's Pipe writes them."""
    from local_runner.pipe import render

    matches = event_pattern(json.dumps(outbox_filter(region)))
    records = [json.loads(json.dumps(r, default=str)) for r in StreamReader(table=TABLE, region=region).read()]
    return [render(MESSAGE_TEMPLATE, record) for record in records if matches(record)]


def deliver_welcome_emails(replication: Replication) -> int:
    """Every region's Pipe and processor, in turn; returns how many emails SES accepted."""
    from adapters.aws.mailer import SesMailer
    from adapters.aws.welcome_outbox import DynamoDBWelcomeOutbox
    from users.welcome import WelcomeEmails, WelcomeMessage

    before = sum(len(sent_emails(r)) for r in REGIONS)
    for region in REGIONS:
        welcome = WelcomeEmails(outbox=DynamoDBWelcomeOutbox(client=boto3.client("dynamodb", region_name=region), table_name=TABLE),
                                mailer=SesMailer(client=boto3.client("sesv2", region_name=region), sender=SENDER), lease_seconds=60)
        for message in outbox(region):
            welcome.deliver(WelcomeMessage.from_json(message))
        replication.settle()
    return sum(len(sent_emails(r)) for r in REGIONS) - before


def race(functions: list[ModuleType], replication: Replication) -> list[str]:
    """Each function creates one spelling of one mailbox, all at once, while replication runs."""
    from users.errors import EmailAlreadyRegistered
    from users.models import NewUser

    outcomes: list[str] = []
    barrier = threading.Barrier(len(functions))

    def racer(i: int) -> None:
        barrier.wait()
        try:
            functions[i].service.create(NewUser(name=f"Racer {i}", email=ONE_MAILBOX[i]), request_key=f"key-{i}")
            outcomes.append("created")
        except EmailAlreadyRegistered:
            outcomes.append("taken")

    stop = threading.Event()
    pump = threading.Thread(target=replication.run, args=(stop,))
    pump.start()
    threads = [threading.Thread(target=racer, args=(i,)) for i in range(len(functions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    pump.join()
    replication.settle()
    return outcomes


def test_racing_one_mailbox_from_two_regions_gives_one_user_and_one_email(replicas, isolated_transactions):
    functions = [load_users_api(region, write_region=PRIMARY) for region in REGIONS * 4]
    outcomes = race(functions, replicas)
    assert sorted(outcomes) == ["created"] + ["taken"] * 7
    assert len(users(PRIMARY)) == len(users(SECONDARY)) == 1
    assert users(SECONDARY)[0]["region"]["S"] == PRIMARY  # written by the write region, whoever served it
    assert deliver_welcome_emails(replicas) == 1


def test_without_one_write_region_the_race_splits_the_mailbox(replicas, isolated_transactions):
    """What the write model prevents: each region committing its own creates (a transaction is
    atomic only in the region that runs it) accepts the mailbox once per region, and each
    region's outbox then sends its own welcome email."""
    functions = [load_users_api(region, write_region=region) for region in REGIONS]
    outcomes = race(functions, replicas)
    assert outcomes == ["created", "created"]
    assert len(users(PRIMARY)) == 2
    assert deliver_welcome_emails(replicas) == 2


def test_the_secondary_region_creates_in_the_write_region_and_reads_its_own_writes(replicas, context):
    secondary = load_users_api(SECONDARY, write_region=PRIMARY)
    reply = Reply(secondary.handler(api_event("POST", "/users", body={"name": "Ada", "email": "ada@example.com"}), context))
    assert reply.status == 201
    assert len(users(PRIMARY)) == 1 and users(SECONDARY) == []  # not replicated yet
    read_back = Reply(secondary.handler(api_event("GET", f"/users/{reply.body['user_id']}"), context))
    assert read_back.status == 200 and read_back.body == reply.body
    replicas.settle()
    again = Reply(secondary.handler(api_event("POST", "/users", body={"name": "Ada", "email": "ADA@Example.com"}), context))
    assert_error(again, 409, "email_taken")


def test_an_unreachable_write_region_is_a_503_with_retry_after_and_writes_nothing(replicas, context):
    secondary = load_users_api(SECONDARY, write_region=PRIMARY)
    unreachable = EndpointConnectionError(endpoint_url=f"https://dynamodb.{PRIMARY}.amazonaws.com")
    with mock.patch.object(secondary._writer, "transact_write_items", side_effect=unreachable):
        reply = Reply(secondary.handler(api_event("POST", "/users", body={"name": "Ada", "email": "ada@example.com"}), context))
    assert_error(reply, 503, "temporarily_unavailable")
    assert reply.headers["retry-after"] == "5"
    assert users(PRIMARY) == [] and users(SECONDARY) == []
    assert "amazonaws" not in json.dumps(reply.body)


def test_reads_stay_in_the_local_replica(replicas, context):
    secondary = load_users_api(SECONDARY, write_region=PRIMARY)
    Reply(secondary.handler(api_event("POST", "/users", body={"name": "Ada", "email": "ada@example.com"}), context))
    replicas.settle()
    with mock.patch.object(secondary._writer, "get_item", side_effect=AssertionError("read from the write region")), \
         mock.patch.object(secondary._writer, "query", side_effect=AssertionError("listed from the write region")):
        listed = Reply(secondary.handler(api_event("GET", "/users"), context))
        assert listed.status == 200 and len(listed.body["users"]) == 1
        got = Reply(secondary.handler(api_event("GET", f"/users/{listed.body['users'][0]['user_id']}"), context))
        assert got.status == 200
