"""local_runner/moto_compat.py: each patch does the same as stock moto on the same calls, it
refuses any moto but the pinned one, and it is gone again when uninstalled. Each test installs
the patches it needs through the `patched` fixture, so no test depends on another's order."""

from __future__ import annotations

import json
import string
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from local_runner import moto_compat
from users import contract

CONFIG = Config(account_id_endpoint_mode="disabled")  # stream ARNs would route to an account endpoint moto does not serve


@pytest.fixture
def patched() -> Iterator[None]:
    assert not moto_compat.installed(), "an earlier test left moto patched"
    moto_compat.install(in_process=True)
    try:
        yield
    finally:
        moto_compat.uninstall(in_process=True)
    assert not moto_compat.installed()


def on_stock_and_patched(scenario: Callable[[str], Any]) -> tuple[Any, Any]:
    """The scenario's result on stock moto, then on patched moto. Each run names its resources
    with a tag of its own (another test's mock may still hold moto's state), and the results
    are compared with the tag taken out."""
    assert not moto_compat.installed()

    def run(patched: bool) -> Any:
        tag = uuid.uuid4().hex[:12]
        if patched:
            moto_compat.install(in_process=True)
        try:
            with mock_aws():
                return json.loads(json.dumps(scenario(tag), default=str).replace(tag, "<tag>"))
        finally:
            if patched:
                moto_compat.uninstall(in_process=True)

    return run(False), run(True)


def test_on_another_moto_the_run_warns_and_keeps_moto_stock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_compat.metadata, "version", lambda name: "5.2.5")
    monkeypatch.setattr(moto_compat, "_warned", [])
    with pytest.warns(RuntimeWarning, match=r"moto 5\.2\.5: the local run's optimisations are written for moto 5\.1\.22 .* "
                                            r"runs on stock moto.*install moto==5\.1\.22"):
        assert moto_compat.install() is False
    assert not moto_compat.installed()
    moto_compat.uninstall()  # nothing to undo
    assert not moto_compat.installed()


def test_what_the_run_cannot_do_without_is_named_when_moto_lacks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def without_event_pattern(name, *args, **kwargs):
        if name == "moto.events.models":
            raise ImportError("cannot import name 'EventPattern'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_event_pattern)
    with pytest.raises(moto_compat.UnsupportedMoto, match=r"needs moto's EventBridge pattern matcher .* install moto==5\.1\.22"):
        moto_compat.event_pattern('{"a": ["b"]}')


def test_the_internals_the_run_reads_work_on_stock_moto() -> None:
    assert moto_compat.event_pattern('{"eventName": ["INSERT"]}')({"eventName": "INSERT"}) is True
    assert moto_compat.event_pattern('{"eventName": ["INSERT"]}')({"eventName": "MODIFY"}) is False
    assert moto_compat.raw_response(b"x").read() == b"x"
    assert moto_compat.cognito_private_key()["kty"] == "RSA"
    assert [k["kid"] for k in moto_compat.cognito_public_keys()["keys"]] == [moto_compat.cognito_private_key()["kid"]]
    with mock_aws():
        import boto3

        ses = boto3.client("ses", region_name="us-east-1")
        ses.verify_email_identity(EmailAddress="a@example.com")
        ses.send_email(Source="a@example.com", Destination={"ToAddresses": ["b@example.com"]},
                       Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}})
        assert [m.destinations["ToAddresses"] for m in moto_compat.sent_emails("us-east-1")] == [["b@example.com"]]


def test_uninstalling_gives_stock_moto_back_and_installs_are_counted() -> None:
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodbstreams.models import ShardIterator
    from moto.sqs.models import Queue

    stock = (DynamoDBBackend.transact_write_items, BotocoreStubber.process_request, Queue.__dict__["attributes"], "__new__" in ShardIterator.__dict__)
    moto_compat.install()
    moto_compat.install()
    moto_compat.uninstall()
    assert DynamoDBBackend.transact_write_items is not stock[0]  # one install still holds
    moto_compat.uninstall()
    assert (DynamoDBBackend.transact_write_items, BotocoreStubber.process_request, Queue.__dict__["attributes"],
            "__new__" in ShardIterator.__dict__) == stock
    assert not moto_compat.installed()


def _transactions(tag: str) -> dict[str, Any]:
    ddb = boto3.client("dynamodb", region_name="us-east-1", config=CONFIG)
    streams = boto3.client("dynamodbstreams", region_name="us-east-1", config=CONFIG)
    table = f"t-{tag}"
    arn = ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                           StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})["TableDescription"]["LatestStreamArn"]
    ddb.put_item(TableName=table, Item={"pk": {"S": "taken"}, "v": {"N": "1"}})
    put = lambda key, value: {"Put": {"TableName": table, "Item": {"pk": {"S": key}, "v": {"N": value}}, "ConditionExpression": "attribute_not_exists(pk)"}}  # noqa: E731
    update = {"Update": {"TableName": table, "Key": {"pk": {"S": "taken"}}, "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"N": "9"}}}}
    outcomes = []
    for items in ([put("new", "2"), put("taken", "3")], [put("new", "2"), update], [put("again", "4")]):
        try:
            ddb.transact_write_items(TransactItems=items)
            outcomes.append("committed")
        except ddb.exceptions.TransactionCanceledException as exc:
            outcomes.append([r["Code"] for r in exc.response["CancellationReasons"]])
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = [(r["eventName"], r["dynamodb"]["Keys"], r["dynamodb"].get("NewImage")) for r in streams.get_records(ShardIterator=iterator)["Records"]]
    items = sorted((i["pk"]["S"], i["v"]["N"]) for i in ddb.scan(TableName=table)["Items"])
    return {"outcomes": outcomes, "items": items, "records": records}


def test_a_cancelled_transaction_rolls_back_items_and_stream_as_stock_moto_does() -> None:
    stock, patched = on_stock_and_patched(_transactions)
    assert patched == stock
    assert stock["outcomes"] == [["None", "ConditionalCheckFailed"], "committed", "committed"]
    assert stock["items"] == [["again", "4"], ["new", "2"], ["taken", "9"]]
    assert [r[0] for r in stock["records"]] == ["INSERT", "INSERT", "MODIFY", "INSERT"]  # nothing of the cancelled one


def _routed_calls(tag: str) -> list[Any]:
    """One of each call the local run makes, through each protocol moto routes."""
    def clean(answer: dict[str, Any]) -> Any:
        answer.pop("ResponseMetadata", None)
        return json.loads(json.dumps(answer, default=str))

    ddb = boto3.client("dynamodb", region_name="us-east-1", config=CONFIG)
    sqs = boto3.client("sqs", region_name="us-east-1", config=CONFIG)
    cognito = boto3.client("cognito-idp", region_name="us-east-1", config=CONFIG)
    ses = boto3.client("sesv2", region_name="us-east-1", config=CONFIG)
    table = f"t-{tag}"
    seen = [clean(ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}]))["TableDescription"]["KeySchema"]]
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    seen.append(clean(ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})))
    seen.append(clean(ddb.query(TableName=table, KeyConditionExpression="pk = :a", ExpressionAttributeValues={":a": {"S": "a"}})))
    try:
        ddb.get_item(TableName="missing", Key={"pk": {"S": "a"}})
    except ddb.exceptions.ResourceNotFoundException as exc:
        seen.append(exc.response["Error"]["Code"])
    url = sqs.create_queue(QueueName=f"q-{tag}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    seen.append([m["Body"] for m in sqs.receive_message(QueueUrl=url).get("Messages", [])])
    pool = cognito.create_user_pool(PoolName=f"p-{tag}")["UserPool"]["Id"]
    seen.append([p["Name"] for p in cognito.list_user_pools(MaxResults=60)["UserPools"] if p["Id"] == pool])
    ses.create_email_identity(EmailIdentity=f"{tag}@example.com")
    seen.append([i for i in clean(ses.list_email_identities())["EmailIdentities"] if tag in i["IdentityName"]])
    return seen


def test_requests_are_routed_to_the_same_answers_as_stock_moto() -> None:
    stock, patched = on_stock_and_patched(_routed_calls)
    assert patched == stock
    assert stock[1]["Item"] == {"pk": {"S": "a"}} and stock[3] == "ResourceNotFoundException" and stock[4] == ["hello"]


def test_queue_attributes_read_one_at_a_time_equal_stock_moto(patched: None) -> None:
    """Every kind of queue, with messages visible, in flight and delayed: the same keys in the
    same order, and the same values, as moto's own property."""
    from moto.sqs.models import Queue, sqs_backends

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1", config=CONFIG)
        dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        urls = [
            dlq,
            sqs.create_queue(QueueName="plain", Attributes={"RedrivePolicy": f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": 3}}',
                                                            "VisibilityTimeout": "60"})["QueueUrl"],
            sqs.create_queue(QueueName="ordered.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"],
            sqs.create_queue(QueueName="sealed", Attributes={"KmsMasterKeyId": "alias/aws/sqs",
                                                             "Policy": '{"Version": "2012-10-17", "Statement": []}'})["QueueUrl"],
        ]
        for url in urls:
            group = {"MessageGroupId": "g"} if url.endswith(".fifo") else {}
            for i in range(3):
                sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", **group)
            if not group:
                sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
            sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)  # one in flight
        queues = [q for q in sqs_backends["123456789012"]["us-east-1"].queues.values() if q.name in ("dead", "plain", "ordered.fifo", "sealed")]
        lazy = {q.name: list(q.attributes.items()) for q in queues}
        assert all(isinstance(q.attributes, moto_compat.QueueAttributes) for q in queues)
        counted = sqs.get_queue_attributes(QueueUrl=urls[1], AttributeNames=["All"])["Attributes"]
        moto_compat.uninstall()
        try:
            assert not isinstance(Queue.__dict__["attributes"].fget, type)
            stock = {q.name: list(q.attributes.items()) for q in queues}
        finally:
            moto_compat.install()
    assert len(lazy) == 4 and lazy == stock
    assert (counted["ApproximateNumberOfMessages"], counted["ApproximateNumberOfMessagesNotVisible"],
            counted["ApproximateNumberOfMessagesDelayed"]) == ("2", "1", "1")


def test_stream_records_written_as_json_equal_stock_moto(patched: None) -> None:
    """Inserts, updates and deletes of items holding every attribute type: GetRecords parses to
    the same records, creation times included, as through moto's generic serializer (both read
    the same stream: patched first, then stock)."""
    name = f"t-{uuid.uuid4().hex[:12]}"  # another test's mock may still hold moto's state
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1", config=CONFIG)
        table = dynamodb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})["TableDescription"]
        every_type = {"pk": {"S": f"{contract.USER_PREFIX}1"}, "sk": {"N": "1"}, "name": {"S": "Ada Lovelace é"}, "n": {"N": "3.25"},
                      "yes": {"BOOL": True}, "none": {"NULL": True}, "m": {"M": {"inner": {"S": "x"}, "l": {"L": [{"N": "1"}, {"S": "two"}]}}},
                      "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}}
        dynamodb.put_item(TableName=name, Item=every_type)
        dynamodb.put_item(TableName=name, Item={**every_type, "name": {"S": "Ada King"}})
        dynamodb.put_item(TableName=name, Item={"pk": {"S": f"{contract.USER_PREFIX}2"}, "sk": {"N": "2"}})
        dynamodb.delete_item(TableName=name, Key={"pk": {"S": f"{contract.USER_PREFIX}2"}, "sk": {"N": "2"}})
        streams = boto3.client("dynamodbstreams", region_name="us-east-1", config=CONFIG)
        arn = table["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

        def read(limit: int | None = None) -> dict[str, Any]:
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            answer = streams.get_records(ShardIterator=iterator, **({"Limit": limit} if limit else {}))
            return {"records": answer["Records"], "next": answer["NextShardIterator"].split("|")[0]}

        patched_reads = (read(), read(limit=2))
        moto_compat.uninstall()
        try:
            stock_reads = (read(), read(limit=2))
        finally:
            moto_compat.install()
    assert patched_reads == stock_reads
    assert [r["eventName"] for r in stock_reads[0]["records"]] == ["INSERT", "MODIFY", "INSERT", "REMOVE"]
    assert len(stock_reads[1]["records"]) == 2


def test_binary_values_come_back_as_written_as_from_dynamodb_streams(patched: None) -> None:
    """Where the patch differs from stock moto on purpose: moto's serializer base64-encodes
    binary values a second time."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1", config=CONFIG)
        arn = dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["TableDescription"]["LatestStreamArn"]
        dynamodb.put_item(TableName=name, Item={"pk": {"S": "bytes"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"one"]}})
        streams = boto3.client("dynamodbstreams", region_name="us-east-1", config=CONFIG)
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        (record,) = streams.get_records(ShardIterator=iterator)["Records"]
    assert record["dynamodb"]["NewImage"] == {"pk": {"S": "bytes"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"one"]}}


def test_the_queue_clock_tells_the_same_milliseconds(patched: None) -> None:
    import datetime as dt
    import time

    import moto.sqs.models as sqs_models

    before = time.time() * 1000
    now = sqs_models.unix_time_millis()
    assert before <= now <= time.time() * 1000
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 678000)
    moto_compat.uninstall()
    try:
        stock = sqs_models.unix_time_millis(when)
    finally:
        moto_compat.install()
    assert sqs_models.unix_time_millis(when) == stock


def test_shard_iterators_expire_after_15_minutes_as_on_aws(patched: None) -> None:
    """moto kept every iterator: an idle runner's Pipe leaked eight a second."""
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    now = [0.0]
    iterators = moto_compat.ExpiringIterators(clock=lambda: now[0])
    iterators["first"] = 1
    now[0] = 15 * 60
    iterators["second"] = 2
    assert set(iterators) == {"first", "second"}  # 15 minutes old: not yet expired
    now[0] = 15 * 60 + 1
    iterators["third"] = 3
    assert set(iterators) == {"second", "third"}
    backend = DynamoDBStreamsBackend("eu-west-3", "123456789012")
    assert isinstance(backend.shard_iterators, moto_compat.ExpiringIterators)
    listed = len(ShardIterator.instances_tracked)  # nor does moto's list of every instance keep them
    shard = type("Shard", (), {"starting_sequence_number": 1, "items": []})()
    assert ShardIterator(backend, shard, "TRIM_HORIZON").sequence_number == 1
    assert len(ShardIterator.instances_tracked) == listed


def test_request_ids_keep_moto_alphabet_length_and_seed(patched: None) -> None:
    from moto.moto_api._internal import mock_random

    with_digits = "".join(mock_random.get_random_string(52) for _ in range(200))
    assert len(with_digits) == 52 * 200
    assert set(with_digits) == set(string.ascii_letters + string.digits)  # every character can appear
    letters = "".join(mock_random.get_random_string(30, include_digits=False) for _ in range(200))
    assert set(letters) == set(string.ascii_letters)
    assert mock_random.get_random_string(12, lower_case=True).islower()
    assert mock_random.get_random_string(0) == ""
    mock_random.seed(7)
    first = [mock_random.get_random_string(20) for _ in range(3)]
    mock_random.seed(7)
    assert [mock_random.get_random_string(20) for _ in range(3)] == first  # moto's seed API still holds
    assert len(set(first)) == 3


def test_action_names_still_map_to_moto_methods(patched: None) -> None:
    from moto.core import responses

    assert responses.camelcase_to_underscores("GetItem") == "get_item"
    assert responses.camelcase_to_underscores("TransactWriteItems") == "transact_write_items"
    assert responses.camelcase_to_underscores("") == ""
