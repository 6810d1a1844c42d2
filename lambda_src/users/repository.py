"""DynamoDB access for users: the only module that knows item shapes and key names.

One table holds three kinds of item, told apart by the partition key's prefix:
  user#<id>        the user; carries `entity` and `created_key` for the listing index, the email
                   as the caller sent it and its identity key (users.identity)
  email#<key>      the email guard that makes mailboxes unique (written in the same transaction)
  quota#<caller>#<hour>  how many creates a caller attempted in that clock hour, refused
                   duplicates included (counted before the transaction; expires with the TTL attribute)
  (idempotency records, written by Powertools under their own prefix)

Write model: the table is a global table, and a DynamoDB transaction is atomic only in the region
that runs it. So every create runs in one write region of the stage (the write authority), from
whichever region served the request; reads stay in the local replica. Every item records the
region that wrote it, which is therefore the write region: only that region's outbox Pipe
forwards the user, so replication never sends a second welcome email.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from users.errors import CreateLimitReached, EmailAlreadyRegistered, TemporarilyUnavailable, UserNotFound

LIST_INDEX = "by_creation"
USER_ENTITY = "user"
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
TTL_ATTRIBUTE = "expiration"


@dataclass(frozen=True, kw_only=True)
class Quota:
    """At most `limit` creates by `caller` in the window that ends at `window_end` (epoch seconds)."""

    caller: str
    window_start: int
    window_end: int
    limit: int


def user_key(user_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"user#{user_id}"}}


def _user_from_item(item: dict[str, Any]) -> dict[str, str]:
    return {k: item[k]["S"] for k in ("user_id", "name", "email", "created_at")}


class UsersRepository:
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
        can be asked no more often than users can be created. Raises CreateLimitReached when the
        quota is used up."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"quota#{quota.caller}#{quota.window_start}"}},
                UpdateExpression="ADD creates :one SET #ttl = :expires",
                ConditionExpression="attribute_not_exists(creates) OR creates < :limit",
                ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(quota.limit)},
                                           ":expires": {"N": str(quota.window_end + 3600)}},
            )
        except UNREACHABLE:
            raise TemporarilyUnavailable(retry_after_seconds=AUTHORITY_RETRY_AFTER_SECONDS) from None
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise CreateLimitReached(retry_after_seconds=max(1, quota.window_end - int(time.time()))) from None
            raise _translate(exc) from None

    def insert(self, *, user_id: str, name: str, email: str, email_key: str, created_at: str,
               request_key: str | None = None) -> str:
        """Writes the user and its email guard atomically and returns the user id; raises
        EmailAlreadyRegistered if taken. With a request_key (the caller's Idempotency-Key), a retry
        of a create that already committed returns the committed user's id instead: the first
        attempt's answer may have been lost after the commit (a timeout, a failed idempotency save).
        The caller's quota is counted before, by count_attempt."""
        user_item = {
            "pk": {"S": f"user#{user_id}"},
            "entity": {"S": USER_ENTITY},
            "created_key": {"S": f"{created_at}#{user_id}"},
            "user_id": {"S": user_id},
            "name": {"S": name},
            "email": {"S": email},
            "email_key": {"S": email_key},
            "created_at": {"S": created_at},
            "region": {"S": self._region},
        }
        guard_item = {
            "pk": {"S": f"email#{email_key}"},
            "user_id": {"S": user_id},
            "created_at": {"S": created_at},
            "region": {"S": self._region},
        }
        if request_key:
            guard_item["request_key"] = {"S": request_key}
        items = [
            {"Put": {"TableName": self._table, "Item": user_item, "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": self._table, "Item": guard_item, "ConditionExpression": "attribute_not_exists(pk)"}},
        ]
        for attempt in range(_CONFLICT_RETRIES):
            try:
                self._ddb.transact_write_items(TransactItems=items)
                return user_id
            except UNREACHABLE:
                raise TemporarilyUnavailable(retry_after_seconds=AUTHORITY_RETRY_AFTER_SECONDS) from None
            except ClientError as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    committed = self._committed_by(email_key, request_key)
                    if committed:
                        return committed
                    raise EmailAlreadyRegistered() from None
                if "TransactionConflict" in reasons and attempt + 1 < _CONFLICT_RETRIES:
                    # Another transaction holds one of the items; after it ends the guard decides.
                    time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                    continue
                raise _translate(exc) from None
        raise TemporarilyUnavailable(retry_after_seconds=1)  # not reached: the last attempt raises

    def _committed_by(self, email_key: str, request_key: str | None) -> str | None:
        """The user id the guard holds, if this same request created it."""
        if not request_key:
            return None
        try:
            guard = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": f"email#{email_key}"}}, ConsistentRead=True).get("Item")
        except UNREACHABLE:
            raise TemporarilyUnavailable(retry_after_seconds=AUTHORITY_RETRY_AFTER_SECONDS) from None
        except ClientError as exc:
            raise _translate(exc) from None
        if guard and guard.get("request_key", {}).get("S") == request_key:
            return str(guard["user_id"]["S"])
        return None

    def get(self, user_id: str) -> dict[str, str]:
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

    def page(self, *, limit: int, after: str | None) -> tuple[list[dict[str, str]], str | None]:
        """Up to `limit` users in creation order after position `after`, and the next position."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": LIST_INDEX,
            "KeyConditionExpression": "entity = :user",
            "ExpressionAttributeValues": {":user": {"S": USER_ENTITY}},
            "Limit": limit + 1,  # one extra tells whether another page exists
        }
        if after is not None:
            user_id = after.split("#", 1)[1]
            query["ExclusiveStartKey"] = {
                "entity": {"S": USER_ENTITY},
                "created_key": {"S": after},
                "pk": {"S": f"user#{user_id}"},
            }
        try:
            items = self._local.query(**query).get("Items", [])
        except ClientError as exc:
            raise _translate(exc) from None
        users = [_user_from_item(i) for i in items[:limit]]
        next_position = items[limit - 1]["created_key"]["S"] if len(items) > limit else None
        return users, next_position


def _translate(exc: ClientError) -> Exception:
    """Maps a DynamoDB error to a domain error; anything unknown stays an internal error."""
    code = exc.response.get("Error", {}).get("Code", "")
    reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
    if code in THROTTLE_CODES or reasons & {"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"}:
        return TemporarilyUnavailable(retry_after_seconds=1)
    if code in UNAVAILABLE_CODES:
        return TemporarilyUnavailable(retry_after_seconds=AUTHORITY_RETRY_AFTER_SECONDS)
    return exc
