"""The outbox's relay: Eventarc hands it each user document's creation (a CloudEvent whose
`document` attribute names it); it publishes the welcome message to the topic. A failure raises,
so Eventarc retries the event; a duplicate publish is harmless (adapters.gcp.welcome_topic)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from google.cloud import firestore
from google.cloud.pubsub_v1 import PublisherClient

from adapters.gcp.firestore_users import FirestoreUserStore
from adapters.gcp.welcome_topic import NotAUserDocument, WelcomeTopic, user_id_of
from handlers.settings import GcpRelaySettings
from users.errors import UserNotFound

settings = GcpRelaySettings.from_environ()
logger = Logger()
store = FirestoreUserStore(client=firestore.Client(project=settings.firestore.project, database=settings.firestore.database))
topic = WelcomeTopic(publisher=PublisherClient(), topic=settings.topic)


def handle(event: Any) -> None:
    """`event`: a cloudevents CloudEvent of type google.cloud.firestore.document.v1.created."""
    document = str(event.get("document") or str(event.get("subject") or "").removeprefix("documents/"))
    try:
        user_id = user_id_of(document)
    except NotAUserDocument as exc:
        logger.error("event not relayed", extra={"reason": str(exc), "event_id": event.get("id")})
        return  # retrying cannot make it a user's: acknowledged, and logged for the alert
    try:
        user = store.get(user_id)
    except UserNotFound:
        logger.error("event not relayed", extra={"reason": "user_not_found", "user_id": user_id})
        return
    message_id = topic.publish(user_id=user.user_id, email=user.email)
    logger.info("welcome message relayed", extra={"user_id": user_id, "message_id": message_id})
