"""Re-keys the email guards of a deployed stage to the identity key (users.identity).

Guards written before the identity key held `email#<address casefolded>`, which let one mailbox
register once per spelling; the identity key's first version folded the part before the @ in full
Unicode (ß as ss), which merged distinct mailboxes. For every user this writes, in one transaction
in the stage's write region: the guard under the current identity key, the key on the user item,
and the removal of the guards of the earlier keys (each where its key differs and it is this
user's). It works through the table in batches, is
safe to stop and run again (a user already re-keyed is a no-op), and never merges: two existing
users whose addresses are one mailbox are reported, with their ids, and left as they are, each
keeping its old guard, for an operator to resolve.

    .venv/bin/python -m migrations.email_keys --stage prod            # dry run: report only
    .venv/bin/python -m migrations.email_keys --stage prod --apply    # write

Run it right after deploying the identity key; creates that land between the deploy and the end
of the run are checked by the run's report (a collision among them is reported like any other).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from tools.arguments import number_in
from users.contract import EMAIL_PREFIX as GUARD_PREFIX
from users.contract import USER_PREFIX
from users.identity import InvalidEmail, email_key
from users import contract


@dataclass
class Report:
    users: int = 0
    rekeyed: int = 0  # a new guard written, or the key added to the user item
    current: int = 0  # already under the identity key
    collisions: list[dict[str, str]] = field(default_factory=list)  # user ids that are one mailbox
    invalid: list[str] = field(default_factory=list)  # user ids whose stored address no longer parses
    planned: dict[str, str] = field(default_factory=dict)  # a dry run's keys so far -> user id

    def as_dict(self) -> dict[str, Any]:
        return {"users": self.users, "rekeyed": self.rekeyed, "current": self.current,
                "collisions": self.collisions, "invalid": self.invalid}


def legacy_key(address: str) -> str:
    """The key guards were written under before the identity key."""
    return address.casefold()


def user_pages(client: Any, table: str, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """The table's user items, a scan page at a time (consistent: the write region's own view)."""
    scan: dict[str, Any] = {"TableName": table, "Limit": batch_size, "ConsistentRead": True,
                            "FilterExpression": "begins_with(pk, :user)", "ExpressionAttributeValues": {":user": {"S": USER_PREFIX}}}
    while True:
        page = client.scan(**scan)
        yield page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def rekey_user(client: Any, table: str, user: dict[str, Any], report: Report, *, apply: bool) -> None:
    user_id = user["user_id"]["S"]
    try:
        key = email_key(user["email"]["S"])
    except InvalidEmail:
        report.invalid.append(user_id)
        return
    # The earlier keys this user's guard may still be under: the casefolded address, and the key
    # the user item holds (written by an earlier version of the identity key).
    olds = sorted({legacy_key(user["email"]["S"]), user.get("email_key", {}).get("S") or key} - {key})
    old = olds[0] if olds else key
    guard = client.get_item(TableName=table, Key={contract.PARTITION_KEY: {"S": GUARD_PREFIX + key}}, ConsistentRead=True).get("Item")
    if guard and guard["user_id"]["S"] != user_id:
        report.collisions.append({"user_id": user_id, "same_mailbox_as": guard["user_id"]["S"]})
        return
    if guard and user.get("email_key", {}).get("S") == key and not any(_held_by(client, table, o, user_id) for o in olds):
        report.current += 1
        return
    if not apply:  # what applying would do, collisions between users of this run included
        holder = report.planned.setdefault(key, user_id)
        if holder != user_id:
            report.collisions.append({"user_id": user_id, "same_mailbox_as": holder})
        else:
            report.rekeyed += 1
        return
    previous = client.get_item(TableName=table, Key={contract.PARTITION_KEY: {"S": GUARD_PREFIX + old}}, ConsistentRead=True).get("Item") or {}
    new_guard = {contract.PARTITION_KEY: {"S": GUARD_PREFIX + key}, "user_id": {"S": user_id},
                 **{k: v for k, v in previous.items() if k in ("created_at", "region", "request_key")}}
    if "created_at" not in new_guard:
        new_guard["created_at"] = user["created_at"]
        new_guard["region"] = user.get("region", {"S": "unknown"})
    uid = {":uid": {"S": user_id}}
    items: list[dict[str, Any]] = [
        {"Put": {"TableName": table, "Item": new_guard,
                 "ConditionExpression": "attribute_not_exists(pk) OR user_id = :uid", "ExpressionAttributeValues": uid}},
        {"Update": {"TableName": table, "Key": {contract.PARTITION_KEY: user[contract.PARTITION_KEY]}, "UpdateExpression": "SET email_key = :key",
                    "ConditionExpression": "attribute_exists(pk)", "ExpressionAttributeValues": {":key": {"S": key}}}},
    ]
    for stale in olds:
        items.append({"Delete": {"TableName": table, "Key": {contract.PARTITION_KEY: {"S": GUARD_PREFIX + stale}},
                                 "ConditionExpression": "attribute_not_exists(pk) OR user_id = :uid", "ExpressionAttributeValues": uid}})
    try:
        client.transact_write_items(TransactItems=items)
    except client.exceptions.TransactionCanceledException as exc:
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
        if reasons and reasons[0] == "ConditionalCheckFailed":  # another user took the key meanwhile
            holder = client.get_item(TableName=table, Key={contract.PARTITION_KEY: {"S": GUARD_PREFIX + key}}, ConsistentRead=True)["Item"]
            report.collisions.append({"user_id": user_id, "same_mailbox_as": holder["user_id"]["S"]})
            return
        raise
    report.rekeyed += 1


def _held_by(client: Any, table: str, key: str, user_id: str) -> bool:
    item = client.get_item(TableName=table, Key={contract.PARTITION_KEY: {"S": GUARD_PREFIX + key}}, ConsistentRead=True).get("Item")
    return bool(item) and item["user_id"]["S"] == user_id


def migrate(client: Any, table: str, *, apply: bool, batch_size: int = 100, progress: Any = None,
            report: Report | None = None) -> Report:
    """Works through the table, counting into `report` as it goes (so a run stopped by an error
    still says how far it got)."""
    report = report if report is not None else Report()
    for page in user_pages(client, table, batch_size):
        for user in page:
            report.users += 1
            rekey_user(client, table, user, report, apply=apply)
        if progress:
            progress(report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m migrations.email_keys", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True, help="the stage whose table to migrate (config/stages.yaml)")
    parser.add_argument("--apply", action="store_true", help="write the changes (without it: a dry run that only reports)")
    parser.add_argument("--batch-size", type=number_in(1, what="a batch size"), default=100, help="users per scan page (default 100)")
    parser.add_argument("--report", type=Path, help="also write the report as JSON to this file")
    args = parser.parse_args(argv)

    import boto3

    from cdk_app.config import ConfigError, load_stages

    try:
        (stage,) = load_stages(only=args.stage)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    client = boto3.client("dynamodb", region_name=stage.write_region)
    mode = "applying" if args.apply else "dry run"
    print(f"{stage.table_name} in {stage.write_region} (the write region), {mode}", file=sys.stderr)
    report = Report()
    try:
        migrate(client, stage.table_name, apply=args.apply, batch_size=args.batch_size, report=report,
                progress=lambda r: print(f"  {r.users} users: {r.rekeyed} re-keyed, {r.current} current, "
                                         f"{len(r.collisions)} collisions", file=sys.stderr))
    except (BotoCoreError, ClientError) as exc:
        print(f"error: {_aws_problem(exc, stage.table_name, stage.write_region)}. Stopped after {report.users} users "
              f"({report.rekeyed} re-keyed); running it again is safe.", file=sys.stderr)
        return 1
    print(json.dumps(report.as_dict(), indent=2))
    if args.report:
        args.report.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    # Collisions need a person: exit 2 so that a script running this notices.
    return 2 if report.collisions or report.invalid else 0


def _aws_problem(exc: BotoCoreError | ClientError, table: str, region: str) -> str:
    """What stopped the run, in one line for the operator running it."""
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found: run it with credentials for the stage's account (AWS_PROFILE=..., or aws sso login)"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        if error.get("Code") == "ResourceNotFoundException":
            return f"no table {table} in {region}: is the stage deployed in this account and region?"
        return f"DynamoDB refused the call: {error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)  # e.g. the endpoint could not be reached


if __name__ == "__main__":
    sys.exit(main())
