"""The one-off re-keying of a deployed stage's email guards (migrations/email_keys.py), on moto,
with users written the way the service wrote them before the identity key, a planted collision
among them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from migrations.email_keys import main, migrate
from tests.unit.conftest import TABLE
from users import contract


def plant_legacy_user(aws: Any, email: str, *, request_key: str | None = None) -> str:
    """A user and its guard as the service wrote them before: the guard keyed by the address casefolded."""
    user_id = str(uuid.uuid4())
    created_at = "2026-01-01T00:00:00.000Z"
    aws.dynamodb.put_item(TableName=TABLE, Item={
        contract.PARTITION_KEY: {"S": f"{contract.USER_PREFIX}{user_id}"}, contract.LIST_INDEX_PARTITION: {"S": "user"}, contract.LIST_INDEX_SORT: {"S": f"{created_at}#{user_id}"},
        "user_id": {"S": user_id}, "name": {"S": "Legacy"}, "email": {"S": email}, "created_at": {"S": created_at},
        "region": {"S": "us-east-1"}})
    guard = {contract.PARTITION_KEY: {"S": f"{contract.EMAIL_PREFIX}{email.casefold()}"}, "user_id": {"S": user_id}, "created_at": {"S": created_at}, "region": {"S": "us-east-1"}}
    if request_key:
        guard["request_key"] = {"S": request_key}
    aws.dynamodb.put_item(TableName=TABLE, Item=guard)
    return user_id


def guards(aws: Any) -> dict[str, str]:
    return {i[contract.PARTITION_KEY]["S"]: i["user_id"]["S"] for i in aws.items() if i[contract.PARTITION_KEY]["S"].startswith(contract.EMAIL_PREFIX)}


@pytest.fixture
def legacy(aws: Any) -> dict[str, str]:
    return {
        "plain": plant_legacy_user(aws, "ada@example.com"),
        "nfc": plant_legacy_user(aws, "Jos\u00e9@example.com", request_key="caller:k1"),
        # The same mailbox in NFD: the old key let it register a second time.
        "nfd_twin": plant_legacy_user(aws, "jose\u0301@EXAMPLE.com"),
        "unicode_domain": plant_legacy_user(aws, "grace@B\u00fccher.de"),
    }


def test_every_user_is_rekeyed_and_the_planted_collision_is_reported_not_merged(aws, legacy):
    report = migrate(aws.dynamodb, TABLE, apply=True, batch_size=2)
    assert report.users == 4
    assert report.rekeyed == 3
    assert len(report.collisions) == 1
    (collision,) = report.collisions
    assert {collision["user_id"], collision["same_mailbox_as"]} == {legacy["nfc"], legacy["nfd_twin"]}
    after = guards(aws)
    assert after[f"{contract.EMAIL_PREFIX}ada@example.com"] == legacy["plain"]
    assert after[f"{contract.EMAIL_PREFIX}grace@xn--bcher-kva.de"] == legacy["unicode_domain"]
    assert f"{contract.EMAIL_PREFIX}grace@b\u00fccher.de" not in after  # the old guard went with the re-keying
    winner, loser = collision["same_mailbox_as"], collision["user_id"]
    assert after[f"{contract.EMAIL_PREFIX}jos\u00e9@example.com"] == winner
    typed = {legacy["nfc"]: "Jos\u00e9@example.com", legacy["nfd_twin"]: "jose\u0301@EXAMPLE.com"}
    assert after[contract.EMAIL_PREFIX + typed[loser].casefold()] == loser  # its old guard is kept
    users = {i["user_id"]["S"]: i for i in aws.items() if i[contract.PARTITION_KEY]["S"].startswith(contract.USER_PREFIX)}
    assert len(users) == 4  # nobody merged or deleted
    assert "email_key" not in users[loser]
    assert users[winner]["email_key"]["S"] == "jos\u00e9@example.com"


def test_the_idempotency_record_of_a_guard_moves_with_it(aws, legacy):
    migrate(aws.dynamodb, TABLE, apply=True)
    guard = next(i for i in aws.items() if i[contract.PARTITION_KEY]["S"] == f"{contract.EMAIL_PREFIX}jos\u00e9@example.com")
    if guard["user_id"]["S"] == legacy["nfc"]:
        assert guard["request_key"]["S"] == "caller:k1"


def test_running_it_again_changes_nothing_and_reports_the_same_collision(aws, legacy):
    first = migrate(aws.dynamodb, TABLE, apply=True)
    items = sorted(aws.items(), key=lambda i: i[contract.PARTITION_KEY]["S"])
    again = migrate(aws.dynamodb, TABLE, apply=True)
    assert sorted(aws.items(), key=lambda i: i[contract.PARTITION_KEY]["S"]) == items
    assert again.rekeyed == 0 and again.current == 3
    assert again.collisions == first.collisions


def test_a_dry_run_writes_nothing_and_reports_what_applying_would(aws, legacy):
    items = sorted(aws.items(), key=lambda i: i[contract.PARTITION_KEY]["S"])
    report = migrate(aws.dynamodb, TABLE, apply=False)
    assert sorted(aws.items(), key=lambda i: i[contract.PARTITION_KEY]["S"]) == items
    assert report.rekeyed == 3 and len(report.collisions) == 1


def test_after_the_migration_the_service_refuses_another_spelling_of_a_migrated_user(aws, legacy, context):
    from tests.unit.api_calls import assert_error, create

    migrate(aws.dynamodb, TABLE, apply=True)
    assert_error(create(aws, context, email="GRACE@xn--bcher-kva.de"), 409, "email_taken")
    assert_error(create(aws, context, email="ada@EXAMPLE.COM"), 409, "email_taken")


def test_the_command_exits_2_when_a_person_must_resolve_collisions(aws, legacy, monkeypatch, capsys, tmp_path):
    import boto3

    import migrations.email_keys as command

    monkeypatch.setattr(boto3, "client", lambda *a, **k: aws.dynamodb)
    monkeypatch.setattr("cdk_app.config.load_stages", lambda only: [type("S", (), {"table_name": TABLE, "write_region": "us-east-1"})()])
    assert command.main(["--stage", "dev", "--apply", "--report", str(tmp_path / "r.json")]) == 2
    out = capsys.readouterr()
    assert '"collisions"' in out.out and "@" not in out.out  # ids only: no addresses in the report
    assert main(["--stage", "dev", "--apply"]) == 2


def _stage(monkeypatch, table: str) -> None:
    monkeypatch.setattr("cdk_app.config.load_stages", lambda only: [type("S", (), {"table_name": table, "write_region": "us-east-1"})()])


def test_without_aws_credentials_the_command_is_one_line_saying_how_to_give_them(aws, monkeypatch, capsys, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr("boto3.DEFAULT_SESSION", None)  # a session of its own: the default one keeps the credentials it found
    _stage(monkeypatch, TABLE)
    assert main(["--stage", "dev"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("error: no AWS credentials found: run it with credentials for the stage's account (AWS_PROFILE=..., "
                       "or aws sso login). Stopped after 0 users (0 re-keyed); running it again is safe.")


def test_a_stage_not_deployed_here_is_one_line(aws, monkeypatch, capsys):
    _stage(monkeypatch, "users-nowhere")
    assert main(["--stage", "dev"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        "error: no table users-nowhere in us-east-1: is the stage deployed in this account and region?")


def test_a_run_stopped_by_aws_says_how_far_it_got_and_a_second_run_finishes_it(aws, legacy, monkeypatch, capsys):
    import migrations.email_keys as command

    def refuse(**kwargs: Any) -> None:
        raise aws.dynamodb.exceptions.ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "Scan")

    real_rekey, seen = command.rekey_user, []

    def rekey_then_lose_access(*args: Any, **kwargs: Any) -> None:
        real_rekey(*args, **kwargs)
        seen.append(1)
        if len(seen) == 2:  # from here on AWS refuses every call, as after a role's session expired
            aws.dynamodb.meta.events.register_first("before-call.dynamodb", refuse)

    _stage(monkeypatch, TABLE)
    monkeypatch.setattr("boto3.client", lambda *a, **k: aws.dynamodb)
    monkeypatch.setattr(command, "rekey_user", rekey_then_lose_access)
    assert main(["--stage", "dev", "--apply", "--batch-size", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: DynamoDB refused the call: AccessDeniedException: not allowed. Stopped after 2 users (")
    assert err.endswith("re-keyed); running it again is safe.")
    aws.dynamodb.meta.events.unregister("before-call.dynamodb", refuse)
    monkeypatch.setattr(command, "rekey_user", real_rekey)
    assert main(["--stage", "dev", "--apply"]) == 2  # done; the planted collision still needs a person
    assert '"users": 4' in capsys.readouterr().out


def test_a_user_keyed_by_the_full_unicode_fold_is_rekeyed_and_frees_the_mailbox_it_blocked(aws, context):
    """The identity key's first version folded ß to ss: straße@ held strasse@'s guard. Re-keyed, it
    keeps its own mailbox, and strasse@, another mailbox, can register."""
    from tests.unit.api_calls import create

    user_id = plant_legacy_user(aws, "stra\u00dfe@example.com")
    aws.dynamodb.update_item(TableName=TABLE, Key={contract.PARTITION_KEY: {"S": f"{contract.USER_PREFIX}{user_id}"}}, UpdateExpression="SET email_key = :k",
                             ExpressionAttributeValues={":k": {"S": "strasse@example.com"}})
    aws.dynamodb.put_item(TableName=TABLE, Item={contract.PARTITION_KEY: {"S": f"{contract.EMAIL_PREFIX}strasse@example.com"}, "user_id": {"S": user_id},
                                                 "created_at": {"S": "2026-01-01T00:00:00.000Z"}, "region": {"S": "us-east-1"}})
    report = migrate(aws.dynamodb, TABLE, apply=True)
    assert report.rekeyed == 1 and not report.collisions
    after = guards(aws)
    assert after[f"{contract.EMAIL_PREFIX}stra\u00dfe@example.com"] == user_id
    assert f"{contract.EMAIL_PREFIX}strasse@example.com" not in after  # the full-fold key's guard went with it
    assert create(aws, context, email="strasse@example.com").status == 201
    assert migrate(aws.dynamodb, TABLE, apply=True).current == 2  # and again: nothing left to do
