"""The user store (users.ports.UserStore) on DynamoDB: it writes and reads the users table's
items; the welcome outbox (welcome_outbox.py) adds only its lease and sent mark to user items.

One table holds three kinds of item, told apart by the partition key's prefix (users.contract):
  user#<id>        the user; carries `entity` and `created_key` for the listing index, the email
                   as the caller sent it and its identity key (users.identity)
  email#<key>      the email guard that makes mailboxes unique (written in the same transaction)
  quota#<caller>#<window start>  how many creates a caller attempted in that window, refused
                   duplicates included (counted before the transaction; expires with the TTL attribute)
  (idempotency records, written by Powertools under the function's name; they expire too)

Write model: the table is a global table, and a DynamoDB transaction is atomic only in the region
that runs it. So every create runs in one write region of the stage (the write authority), from
whichever region served the request; reads stay in the local replica. Every item records the
region that wrote it, which is therefore the write region: only that region's outbox Pipe
forwards the user, so replication never sends a second welcome email.
"""

from __future__ import annotations

import random
import time
from typing import Any

from botocore.exceptions import ClientError, ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from users import contract
from users.errors import CreateLimitReached, EmailAlreadyRegistered, TemporarilyUnavailable, UserNotFound
from users.models import User
from users.ports import Quota

PK = contract.PARTITION_KEY
THROTTLE_CODES = frozenset({
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "LimitExceededException",
})
# The write region answered with a server error, or could not be reached at all.
UNAVAILABLE_CODES = frozenset({"InternalServerError", "ServiceUnavailable", "ServiceUnavailableException"})
UNREACHABLE = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)
# How long a client should wait before retrying a create the write region could not take.
AUTHORITY_RETRY_AFTER_SECONDS = 5
_CONFLICT_RETRIES = 3
# A quota item outlives its window by this much, then DynamoDB's TTL removes it.
QUOTA_GRACE_SECONDS = 3600


def user_key(user_id: str) -> dict[str, Any]:
    return {PK: {"S": f"{contract.USER_PREFIX}{user_id}"}}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _user_from_item(item: dict[str, Any]) -> User:
    return User(**{field: item[field]["S"] for field in contract.USER_FIELDS})


class DynamoDBUserStore:
    """`client` talks to the write region `region`; `replica`, if given, to this region's replica,
    which serves reads (without it, reads go to `client` too: a single-region stage)."""

    def __init__(self, *, client: Any, table_name: str, region: str, replica: Any = None) -> None:
        self._ddb = client
        self._local = replica if replica is not None else client
        self._table = table_name
        self._region = region

    def count_attempt(self, quota: Quota) -> None:
        """Counts one create attempt against the caller's quota, before the mailbox is looked at:
        a refused duplicate (409) costs as much as a create, so "is this address registered?"
        can be asked no more often than users can be created."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={PK: {"S": f"{contract.QUOTA_PREFIX}{quota.caller}#{quota.window_start}"}},
                UpdateExpression="ADD creates :one SET #ttl = :expires",
                ConditionExpression="attribute_not_exists(creates) OR creates < :limit",
                ExpressionAttributeNames={"#ttl": contract.TTL_ATTRIBUTE},
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(quota.limit)},
                                           ":expires": {"N": str(quota.window_end + QUOTA_GRACE_SECONDS)}},
            )
        except UNREACHABLE:
            raise TemporarilyUnavailable(retry_after_seconds=AUTHORITY_RETRY_AFTER_SECONDS) from None
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise CreateLimitReached(retry_after_seconds=max(1, quota.window_end - int(time.time()))) from None
            raise _translate(exc) from None

    def insert(self, user: User, *, email_key: str, request_key: str | None = None) -> str:
        """The user and its email guard in one transaction. A retry of a create that already
        committed (its answer lost after the commit: a timeout, a failed idempotency save) finds
        the guard it wrote, by the request_key (the caller's Idempotency-Key)."""
        user_item = {
            PK: {"S": f"{contract.USER_PREFIX}{user.user_id}"},
            contract.LIST_INDEX_PARTITION: {"S": contract.USER_ENTITY},
            contract.LIST_INDEX_SORT: {"S": f"{user.created_at}#{user.user_id}"},
            **{field: {"S": getattr(user, field)} for field in contract.USER_FIELDS},
            "email_key": {"S": email_key},
            contract.REGION_ATTRIBUTE: {"S": self._region},
        }
        guard_item = {
            PK: {"S": f"{contract.EMAIL_PREFIX}{email_key}"},
            "user_id": {"S": user.user_id},
            "created_at": {"S": user.created_at},
            contract.REGION_ATTRIBUTE: {"S": self._region},
        }
        if request_key:
            guard_item["request_key"] = {"S": request_key}
        writes = {"user": user_item, "guard": guard_item}
        transaction = [{"Put": {"TableName": self._table, "Item": item, "ConditionExpression": f"attribute_not_exists({PK})"}}
                       for item in writes.values()]
        for attempt in range(_CONFLICT_RETRIES):
            try:
                self._ddb.transact_write_items(TransactItems=transaction)
                return user.user_id
            except UNREACHABLE:
                raise TemporarilyUnavailable(retry_after_seconds=AUTHORITY_RETRY_AFTER_SECONDS) from None
            except ClientError as exc:
                # DynamoDB reports one reason per write, in the order they were sent.
                failed = dict(zip(writes, (r.get("Code") for r in exc.response.get("CancellationReasons", []))))
                if failed.get("guard") == "ConditionalCheckFailed":
                    committed = self._committed_by(email_key, request_key)
                    if committed:
                        return committed
                    raise EmailAlreadyRegistered() from None
                if "TransactionConflict" in failed.values() and attempt + 1 < _CONFLICT_RETRIES:
                    # Another transaction holds one of the items; after it ends the guard decides.
                    time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                    continue
                raise _translate(exc) from None
        raise AssertionError("not reached: the last attempt returns or raises")

    def _committed_by(self, email_key: str, request_key: str | None) -> str | None:
        """The user id the guard holds, if this same request created it."""
        if not request_key:
            return None
        try:
            guard = self._ddb.get_item(TableName=self._table, Key={PK: {"S": f"{contract.EMAIL_PREFIX}{email_key}"}},
                                       ConsistentRead=True).get("Item")
        except UNREACHABLE:
            raise TemporarilyUnavailable(retry_after_seconds=AUTHORITY_RETRY_AFTER_SECONDS) from None
        except ClientError as exc:
            raise _translate(exc) from None
        if guard and guard.get("request_key", {}).get("S") == request_key:
            return str(guard["user_id"]["S"])
        return None

    def get(self, user_id: str) -> User:
        """From the local replica; a user it does not hold yet (created within the replication
        lag, so a client can read back what it just created) is looked up in the write region."""
        item = self._get_item(self._local, user_id)
        if item is None and self._local is not self._ddb:
            try:
                item = self._get_item(self._ddb, user_id)
            except TemporarilyUnavailable:
                item = None  # the write region is out of reach: the local answer stands
        if item is None:
            raise UserNotFound()
        return _user_from_item(item)

    def _get_item(self, client: Any, user_id: str) -> dict[str, Any] | None:
        try:
            item: dict[str, Any] | None = client.get_item(TableName=self._table, Key=user_key(user_id), ConsistentRead=True).get("Item")
        except UNREACHABLE:
            raise TemporarilyUnavailable(retry_after_seconds=AUTHORITY_RETRY_AFTER_SECONDS) from None
        except ClientError as exc:
            raise _translate(exc) from None
        return item

    def page(self, *, limit: int, after: str | None) -> tuple[list[User], str | None]:
        """A position is the listing index's sort key of the last user on the page."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": contract.LIST_INDEX,
            "KeyConditionExpression": f"{contract.LIST_INDEX_PARTITION} = :user",
            "ExpressionAttributeValues": {":user": {"S": contract.USER_ENTITY}},
            "Limit": limit + 1,  # one extra tells whether another page exists
        }
        if after is not None:
            user_id = after.split("#", 1)[1]
            query["ExclusiveStartKey"] = {
                contract.LIST_INDEX_PARTITION: {"S": contract.USER_ENTITY},
                contract.LIST_INDEX_SORT: {"S": after},
                **user_key(user_id),
            }
        try:
            items = self._local.query(**query).get("Items", [])
        except ClientError as exc:
            raise _translate(exc) from None
        users = [_user_from_item(i) for i in items[:limit]]
        next_position = items[limit - 1][contract.LIST_INDEX_SORT]["S"] if len(items) > limit else None
        return users, next_position


def _translate(exc: ClientError) -> Exception:
    """Maps a DynamoDB error to a domain error; anything unknown stays an internal error."""
    code = error_code(exc)
    reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
    if code in THROTTLE_CODES or reasons & {"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"}:
        return TemporarilyUnavailable(retry_after_seconds=1)
    if code in UNAVAILABLE_CODES:
        return TemporarilyUnavailable(retry_after_seconds=AUTHORITY_RETRY_AFTER_SECONDS)
    return exc
