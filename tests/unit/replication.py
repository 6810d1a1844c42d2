"""A DynamoDB global table's replication, emulated on moto for the multi-region tests.

moto keeps one independent table per region and does not replicate. Here each region's table
stream is read and every change is applied to the other regions' tables after a lag, in the
order it arrived: asynchronous replication with a visible window, which is what lets two
regions each accept one mailbox when both commit locally.

Emulated: asynchronous, lagged, per-item replication of puts, updates and deletes in every
direction, with the last write to arrive winning. Not emulated: DynamoDB's conflict resolution by
write timestamp (here, arrival order decides), replication of TTL deletes, and multi-Region
strong consistency.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
from botocore.config import Config

from tests.unit.conftest import TRANSACTIONS


# Stream ARNs would otherwise route to an account-specific endpoint that moto does not serve.
_CONFIG = Config(account_id_endpoint_mode="disabled")


class StreamReader:
    """One consumer of one region's table stream, with its own position (as each Pipe has)."""

    def __init__(self, *, table: str, region: str) -> None:
        self._ddb = boto3.client("dynamodb", region_name=region, config=_CONFIG)
        self._streams = boto3.client("dynamodbstreams", region_name=region, config=_CONFIG)
        self._table = table
        self._positions: dict[str, str] = {}

    def read(self) -> list[dict[str, Any]]:
        """The records added since the last read (never those of a transaction in flight)."""
        with TRANSACTIONS:
            return self._read()

    def _read(self) -> list[dict[str, Any]]:
        arn = self._ddb.describe_table(TableName=self._table)["Table"]["LatestStreamArn"]
        records = []
        for shard in self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            position = self._positions.get(shard["ShardId"])
            where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": position} if position else {"ShardIteratorType": "TRIM_HORIZON"}
            iterator = self._streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], **where)["ShardIterator"]
            batch = self._streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
            if batch:
                self._positions[shard["ShardId"]] = batch[-1]["dynamodb"]["SequenceNumber"]
            records += batch
        return records


class Replication:
    def __init__(self, *, table: str, regions: list[str], lag_seconds: float) -> None:
        self.table, self.regions, self.lag = table, regions, lag_seconds
        self._ddb = {r: boto3.client("dynamodb", region_name=r, config=_CONFIG) for r in regions}
        self._readers = {r: StreamReader(table=table, region=r) for r in regions}
        self._pending: list[tuple[float, str, dict[str, Any]]] = []  # (due, source region, record)
        self._latest: dict[str, tuple[Any, str]] = {}  # item key -> (write time, region) of its newest write
        self._echoes: dict[str, list[str]] = {r: [] for r in regions}  # changes this replicator made there
        self._lock = threading.Lock()

    def _collect(self, due: float) -> int:
        """Reads every region's new records; the writes made there by clients (not echoes of
        replication) are queued to be replicated at `due`."""
        found = 0
        for region in self.regions:
            for record in self._readers[region].read():
                signature = _signature(record)
                if signature in self._echoes[region]:
                    self._echoes[region].remove(signature)
                    continue
                key = json.dumps(record["dynamodb"]["Keys"], sort_keys=True)
                version = (record["dynamodb"]["ApproximateCreationDateTime"], region)
                self._latest[key] = max(self._latest.get(key, version), version)
                self._pending.append((due, region, record))
                found += 1
        return found

    def pump(self, *, settle: bool = False) -> None:
        """Reads every stream and applies the changes whose lag has passed (all of them if settle).
        Of two writes to one item, the later one wins in every region (last writer wins)."""
        with self._lock:
            now = time.monotonic()
            self._collect(now + self.lag)
            due = [p for p in self._pending if settle or p[0] <= now]
            self._pending = [p for p in self._pending if not (settle or p[0] <= now)]
            for _, source, record in due:
                key = json.dumps(record["dynamodb"]["Keys"], sort_keys=True)
                if self._latest[key] != (record["dynamodb"]["ApproximateCreationDateTime"], source):
                    continue  # a newer write to this item exists: this one lost everywhere
                for target in self.regions:
                    if target != source:
                        self._apply(target, record)

    def settle(self) -> None:
        """Replicates until no change is left in flight."""
        for _ in range(10):
            self.pump(settle=True)
            if not self._pending and not self._collect(time.monotonic()):
                return
        raise AssertionError("replication did not settle")

    def _apply(self, target: str, record: dict[str, Any]) -> None:
        change = record["dynamodb"]
        current = self._ddb[target].get_item(TableName=self.table, Key=change["Keys"]).get("Item")
        if record["eventName"] == "REMOVE":
            if current is None:
                return
            self._ddb[target].delete_item(TableName=self.table, Key=change["Keys"])
        else:
            if current == change["NewImage"]:
                return
            self._ddb[target].put_item(TableName=self.table, Item=change["NewImage"])
        self._echoes[target].append(_signature(record))

    def run(self, stop: threading.Event, every: float = 0.05) -> None:
        while not stop.is_set():
            self.pump()
            stop.wait(every)


def _signature(record: dict[str, Any]) -> str:
    change = record["dynamodb"]
    return json.dumps([change["Keys"], change.get("NewImage")], sort_keys=True)
