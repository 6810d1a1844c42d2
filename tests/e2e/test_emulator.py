"""The emulator's shortcuts through moto's per-call plumbing keep moto's observable behaviour."""

from __future__ import annotations

import string

from local_runner.emulator import make_dispatch_cheap


def test_ids_keep_moto_alphabet_length_and_seed() -> None:
    make_dispatch_cheap()
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


def test_action_names_still_map_to_moto_methods() -> None:
    make_dispatch_cheap()
    from moto.core import responses

    assert responses.camelcase_to_underscores("GetItem") == "get_item"
    assert responses.camelcase_to_underscores("TransactWriteItems") == "transact_write_items"
    assert responses.camelcase_to_underscores("") == ""


def test_queue_attributes_read_lazily_equal_moto_own() -> None:
    """Every kind of queue, with messages visible, in flight and delayed: the same keys in the
    same order, and the same values, as moto's property."""
    import boto3
    from botocore.config import Config
    from moto import mock_aws
    from moto.sqs.models import sqs_backends

    from local_runner.emulator import QueueAttributes, make_queues_cheap

    make_queues_cheap()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1", config=Config(account_id_endpoint_mode="disabled"))
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
        queues = sqs_backends["123456789012"]["us-east-1"].queues.values()
        assert len(queues) == 4
        for queue in queues:
            lazy = queue.attributes
            assert isinstance(lazy, QueueAttributes)
            assert list(lazy.items()) == list(QueueAttributes.moto.fget(queue).items()), queue.name
            assert "ApproximateNumberOfMessagesNotVisible" in lazy and "NoSuchAttribute" not in lazy
        counted = sqs.get_queue_attributes(QueueUrl=urls[1], AttributeNames=["All"])["Attributes"]
        assert (counted["ApproximateNumberOfMessages"], counted["ApproximateNumberOfMessagesNotVisible"],
                counted["ApproximateNumberOfMessagesDelayed"]) == ("2", "1", "1")


def test_stream_records_written_directly_equal_moto_serialized(monkeypatch) -> None:
    """Inserts, updates and deletes of items holding every attribute type: GetRecords parses to
    the same records (creation times included) as through moto's generic serializer."""
    import boto3
    from botocore.config import Config
    from moto import mock_aws
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    from local_runner.emulator import make_streams_cheap

    make_streams_cheap()
    config = Config(account_id_endpoint_mode="disabled")
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1", config=config)
        table = dynamodb.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})["TableDescription"]
        every_type = {"pk": {"S": "user#1"}, "sk": {"N": "1"}, "name": {"S": "Ada Lovelace é"}, "n": {"N": "3.25"},
                      "yes": {"BOOL": True}, "none": {"NULL": True}, "m": {"M": {"inner": {"S": "x"}, "l": {"L": [{"N": "1"}, {"S": "two"}]}}},
                      "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}}
        dynamodb.put_item(TableName="t", Item=every_type)
        dynamodb.put_item(TableName="t", Item={**every_type, "name": {"S": "Ada King"}})
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "user#2"}, "sk": {"N": "2"}})
        dynamodb.delete_item(TableName="t", Key={"pk": {"S": "user#2"}, "sk": {"N": "2"}})
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "bytes"}, "sk": {"N": "3"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"one"]}})
        streams = boto3.client("dynamodbstreams", region_name="us-east-1", config=config)
        arn = table["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

        def read(limit: int | None = None) -> dict:
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            answer = streams.get_records(ShardIterator=iterator, **({"Limit": limit} if limit else {}))
            return {"records": answer["Records"], "next": answer["NextShardIterator"].split("|")[0]}

        direct, direct_limited = read(), read(limit=2)
        monkeypatch.setattr(DynamoDBStreamsHandler, "get_records", DynamoDBStreamsHandler.get_records._archon_original)
        serialized, serialized_limited = read(), read(limit=2)
    assert [r["eventName"] for r in direct["records"]] == ["INSERT", "MODIFY", "INSERT", "REMOVE", "INSERT"]
    # Binary values come back as written, as from DynamoDB Streams; moto's serializer encodes them twice.
    assert direct["records"][-1]["dynamodb"]["NewImage"] == {"pk": {"S": "bytes"}, "sk": {"N": "3"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"one"]}}
    assert direct["records"][:-1] == serialized["records"][:-1] and direct["next"] == serialized["next"]
    assert direct_limited == serialized_limited and len(direct_limited["records"]) == 2


def test_shard_iterators_expire_after_15_minutes_as_on_aws() -> None:
    """moto kept every iterator: an idle runner's Pipe leaked eight a second."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    from local_runner.emulator import ExpiringIterators, make_streams_cheap

    now = [0.0]
    iterators = ExpiringIterators(clock=lambda: now[0])
    iterators["first"] = 1
    now[0] = 15 * 60
    iterators["second"] = 2
    assert set(iterators) == {"first", "second"}  # 15 minutes old: not yet expired
    now[0] = 15 * 60 + 1
    iterators["third"] = 3
    assert set(iterators) == {"second", "third"}
    assert iterators["third"] == 3

    make_streams_cheap()
    backend = dynamodbstreams_backends["123456789012"]["eu-west-3"]
    assert isinstance(backend.shard_iterators, ExpiringIterators)
    # Nor does moto's list of every model instance keep them alive.
    from moto.dynamodbstreams.models import ShardIterator

    listed = len(ShardIterator.instances_tracked)
    shard = type("Shard", (), {"starting_sequence_number": 1, "items": []})()
    assert ShardIterator(backend, shard, "TRIM_HORIZON").sequence_number == 1
    assert len(ShardIterator.instances_tracked) == listed
