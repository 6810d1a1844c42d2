"""The relay's message: the same welcome message the AWS Pipe writes, from a user document's event."""

from __future__ import annotations

import json
import uuid
from unittest import mock

import pytest

from adapters.gcp.welcome_topic import NotAUserDocument, WelcomeTopic, user_id_of, welcome_message
from users import contract
from users.welcome import WelcomeMessage


def test_the_message_is_the_one_the_processor_reads() -> None:
    user_id = str(uuid.uuid4())
    body = welcome_message(user_id=user_id, email="ada@example.com")
    assert set(json.loads(body)) == set(contract.WELCOME_MESSAGE_FIELDS)
    assert WelcomeMessage.from_json(body.decode()) == WelcomeMessage(type=contract.WELCOME_MESSAGE_TYPE, user_id=user_id, email="ada@example.com")


def test_only_a_user_document_names_a_user() -> None:
    user_id = str(uuid.uuid4())
    assert user_id_of(f"users/{user_id}") == user_id
    for document in (f"email_guards/{user_id}", "users/not-a-uuid", f"users/{user_id}/sub/doc", "users", ""):
        with pytest.raises(NotAUserDocument) as refused:
            user_id_of(document)
        assert str(refused.value) == "the event's document is not users/<user id>"  # what the relay logs


def test_publish_waits_for_the_topic_and_tags_the_user() -> None:
    publisher = mock.Mock()
    publisher.publish.return_value.result.return_value = "42"
    topic = WelcomeTopic(publisher=publisher, topic="projects/p/topics/t", timeout_seconds=7)
    user_id = str(uuid.uuid4())
    assert topic.publish(user_id=user_id, email="ada@example.com") == "42"
    publisher.publish.assert_called_once_with("projects/p/topics/t", welcome_message(user_id=user_id, email="ada@example.com"), user_id=user_id)
    publisher.publish.return_value.result.assert_called_once_with(timeout=7)


def test_the_relay_waits_for_the_topic_well_inside_its_own_timeout() -> None:
    publisher = mock.Mock()
    WelcomeTopic(publisher=publisher, topic="projects/p/topics/t").publish(user_id=str(uuid.uuid4()), email="ada@example.com")
    publisher.publish.return_value.result.assert_called_once_with(timeout=20)
