"""The welcome-email processor: Pub/Sub pushes each welcome message (through Eventarc, a
CloudEvent carrying the message); the domain's lease-then-mark rule (users.welcome) sends one
email per user however often it arrives. A failure raises, so Pub/Sub redelivers it, and after
the subscription's last attempt moves it to the dead-letter topic; a message that can never be
handled is acknowledged and logged instead, for the dead-letter alert's sibling."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from google.cloud import firestore

from adapters.gcp.firestore_outbox import FirestoreWelcomeOutbox
from adapters.gcp.smtp_mailer import SmtpMailer, SmtpSettings
from handlers.settings import GcpWelcomeSettings
from users.welcome import MalformedMessage, Outcome, WelcomeEmails, WelcomeFailure, WelcomeMarkFailed, WelcomeMessage

settings = GcpWelcomeSettings.from_environ()
logger = Logger()
metrics = Metrics()
metrics.set_default_dimensions(stage=os.environ.get("STAGE", "unknown"))
_password = Path(settings.smtp_password_file).read_text().strip() if settings.smtp_password_file else ""
welcome = WelcomeEmails(
    outbox=FirestoreWelcomeOutbox(client=firestore.Client(project=settings.firestore.project, database=settings.firestore.database)),
    mailer=SmtpMailer(settings=SmtpSettings(host=settings.smtp_host, port=settings.smtp_port, tls=settings.smtp_tls,
                                            username=settings.smtp_username, password=_password), sender=settings.sender),
    lease_seconds=settings.lease_seconds,
)


class WelcomeNotSent(Exception):
    """Raised so that Pub/Sub redelivers the message; the text is a reason code, safe to log."""


def handle(event: Any) -> str:
    """`event`: a cloudevents CloudEvent of type google.cloud.pubsub.topic.v1.messagePublished."""
    message = (event.data or {}).get("message") or {}
    message_id = message.get("messageId") or message.get("message_id")
    try:
        welcome_message = WelcomeMessage.from_json(base64.b64decode(message.get("data") or "").decode("utf-8", "replace"))
    except (MalformedMessage, ValueError) as exc:
        metrics.add_metric(name="WelcomeEmailsFailed", unit=MetricUnit.Count, value=1)
        logger.error("welcome email not sent", extra={"reason": "malformed_message", "detail": str(exc), "message_id": message_id})
        metrics.flush_metrics()
        return "malformed_message"  # acknowledged: no redelivery can mend it
    try:
        outcome = welcome.deliver(welcome_message)
    except WelcomeFailure as exc:
        metrics.add_metric(name="WelcomeEmailsFailed", unit=MetricUnit.Count, value=1)
        logger.warning("welcome email not sent", extra={"reason": exc.reason, "message_id": message_id})
        metrics.flush_metrics()
        raise WelcomeNotSent(exc.reason) from None
    except WelcomeMarkFailed as exc:
        # The provider accepted the email: the message must not be redelivered (that would send it twice).
        metrics.add_metric(name="WelcomeMarkFailed", unit=MetricUnit.Count, value=1)
        logger.error("welcome email sent but not marked", extra={"user_id": welcome_message.user_id, "error_code": exc.code})
        outcome = Outcome.SENT
    name = "WelcomeEmailsSent" if outcome is Outcome.SENT else "WelcomeEmailsDeduplicated"
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info("welcome email sent" if outcome is Outcome.SENT else "welcome email already sent", extra={"user_id": welcome_message.user_id})
    metrics.flush_metrics()
    return outcome.value
