"""The welcome outbox (users.ports.WelcomeOutbox) on the users table: the lease and the sent mark
are attributes of the user item, changed by conditional updates."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from adapters.aws.users_table import PK, THROTTLE_CODES, error_code, user_key
from users.ports import Claim, OutboxError

SENT_ATTRIBUTE = "welcome_email_sent_at"
# Worth another try: throttling, a server error, a transaction holding the item.
TRANSIENT_CODES = THROTTLE_CODES | {"InternalServerError", "ServiceUnavailable", "TransactionConflictException"}


def _failure(exc: ClientError) -> OutboxError:
    code = error_code(exc)
    return OutboxError(f"dynamodb_{code}", transient=code in TRANSIENT_CODES)


class DynamoDBWelcomeOutbox:
    def __init__(self, *, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def claim(self, user_id: str, *, token: str, now: int, lease_until: int) -> Claim:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=user_key(user_id),
                UpdateExpression="SET welcome_lease_token = :token, welcome_lease_until = :until",
                ConditionExpression=(
                    f"attribute_exists({PK}) AND attribute_not_exists({SENT_ATTRIBUTE}) "
                    "AND (attribute_not_exists(welcome_lease_until) OR welcome_lease_until < :now)"
                ),
                ExpressionAttributeValues={":token": {"S": token}, ":until": {"N": str(lease_until)}, ":now": {"N": str(now)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise _failure(exc) from None
            old = exc.response.get("Item")
            if not old:
                return Claim.NO_USER
            if SENT_ATTRIBUTE in old:
                return Claim.ALREADY_SENT
            return Claim.IN_PROGRESS
        return Claim.TAKEN

    def release(self, user_id: str, *, token: str) -> None:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=user_key(user_id),
                UpdateExpression="REMOVE welcome_lease_token, welcome_lease_until",
                ConditionExpression="welcome_lease_token = :token",
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except ClientError:
            pass  # the lease expires on its own; the retry waits for it

    def mark_sent(self, user_id: str, *, token: str, sent_at: str) -> None:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=user_key(user_id),
                UpdateExpression=f"SET {SENT_ATTRIBUTE} = :sent REMOVE welcome_lease_token, welcome_lease_until",
                ConditionExpression="welcome_lease_token = :token",
                ExpressionAttributeValues={":token": {"S": token}, ":sent": {"S": sent_at}},
            )
        except ClientError as exc:
            raise _failure(exc) from None
