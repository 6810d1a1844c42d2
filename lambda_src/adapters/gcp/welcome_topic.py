"""The outbox's relay to the welcome queue on GCP: a user document's creation (an Eventarc
CloudEvent) becomes one welcome message on the Pub/Sub topic, the same message the AWS Pipe
writes (users.contract.WELCOME_MESSAGE_FIELDS).

Idempotent: a redelivered event publishes the message again, and the processor's
lease-then-mark rule (users.welcome) sends one email however often a message arrives.
"""

from __future__ import annotations

import json
from typing import Any

from google.cloud.pubsub_v1 import PublisherClient

from users import contract
from users.rules import is_user_id


class NotAUserDocument(ValueError):
    """The event names a document that is not a user's; the text names what is wrong."""


def user_id_of(document: str) -> str:
    """The user id from the event's `document` attribute ("users/<id>")."""
    collection, _, user_id = document.partition("/")
    if collection != contract.USERS_COLLECTION or not is_user_id(user_id):
        raise NotAUserDocument(f"the event's document is not {contract.USERS_COLLECTION}/<user id>")
    return user_id


def welcome_message(*, user_id: str, email: str) -> bytes:
    return json.dumps({"type": contract.WELCOME_MESSAGE_TYPE, "user_id": user_id, "email": email}).encode()


class WelcomeTopic:
    def __init__(self, *, publisher: PublisherClient, topic: str, timeout_seconds: float = 20) -> None:
        self._publisher = publisher
        self._topic = topic
        self._timeout = timeout_seconds

    def publish(self, *, user_id: str, email: str) -> str:
        """Publishes and waits for the topic to accept it; raises what the client raised."""
        future: Any = self._publisher.publish(self._topic, welcome_message(user_id=user_id, email=email), user_id=user_id)
        return str(future.result(timeout=self._timeout))
