"""SnapStart's runtime hooks as Lambda runs them: the before-snapshot hooks once, after the handler
modules' init; the after-restore hooks in each environment resumed from that snapshot."""

from __future__ import annotations

import random
from typing import Any
from unittest import mock

import snapshot_restore_py

from tests.unit.events import api_event, sqs_event, welcome
from users import contract


def run(hooks: list[Any]) -> None:
    for func, args, kwargs in hooks:
        func(*args, **kwargs)


def test_environments_resumed_from_one_snapshot_draw_different_random_numbers(aws) -> None:
    snapshot = random.getstate()
    draws = []
    for _ in range(3):
        random.setstate(snapshot)  # each environment resumes with the generator as the snapshot held it
        run(snapshot_restore_py.get_after_restore())
        draws.append(tuple(random.random() for _ in range(4)))
    assert len(set(draws)) == 3, "restored environments would retry (botocore's jitter, the user store's backoff) in lockstep"


def test_the_snapshot_holds_no_connection_and_both_handlers_work_after_restore(aws, context) -> None:
    clients = {"users API's DynamoDB": aws.users_api._dynamodb, "users API's write-region DynamoDB": aws.users_api._writer,
               "processor's DynamoDB": aws.notifications._dynamodb, "processor's SES": aws.notifications._ses}
    closed: set[int] = set()
    unique = {id(client): client for client in clients.values()}  # one stage region: the write-region client is the local one
    spies = [mock.patch.object(client, "close", side_effect=lambda c=client, close=client.close: (closed.add(id(c)), close()))
             for client in unique.values()]
    for spy in spies:
        spy.start()
    try:
        run(snapshot_restore_py.get_before_snapshot())
    finally:
        for spy in spies:
            spy.stop()
    assert [name for name, client in clients.items() if id(client) not in closed] == []
    run(snapshot_restore_py.get_after_restore())

    created = aws.users_api.handler(api_event("POST", "/users", body={"name": "Ada", "email": "ada@example.com"}), context)
    assert created["statusCode"] == 201, created["body"]
    user_id = next(i["user_id"]["S"] for i in aws.items() if i[contract.PARTITION_KEY]["S"].startswith(contract.USER_PREFIX))
    batch = aws.notifications.handler(sqs_event(welcome(user_id, "ada@example.com")), context)
    assert batch == {"batchItemFailures": []} and len(aws.sent_emails()) == 1
