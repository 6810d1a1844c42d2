"""The welcome-notification processor behind the SQS queue (partial batch failures)."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from adapters.aws.mailer import SesMailer
from adapters.aws.welcome_outbox import DynamoDBWelcomeOutbox
from handlers import init_done
from handlers.observability import RETRIES, observability
from handlers.settings import NotificationsSettings
from handlers.snapshot_hooks import share_nothing_across_restores
from users.welcome import MalformedMessage, Outcome, WelcomeEmails, WelcomeFailure, WelcomeMarkFailed, WelcomeMessage

logger, tracer, metrics = observability()
_dynamodb = boto3.client("dynamodb", config=RETRIES)
_ses = boto3.client("sesv2", config=RETRIES)
share_nothing_across_restores(_dynamodb, _ses)
settings = NotificationsSettings.from_environ()
welcome = WelcomeEmails(
    outbox=DynamoDBWelcomeOutbox(client=_dynamodb, table_name=settings.table_name),
    mailer=SesMailer(client=_ses, sender=settings.sender),
    lease_seconds=settings.lease_seconds,
)
# A batch whose every record failed is reported like any other, not raised: a lone poison
# message must not count as a function error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class PoisonMessage(Exception):
    """A message that can never be processed; it is reported so the redrive dead-letters it."""


def _failed(reason: str, record: SQSRecord, detail: str | None = None) -> None:
    metrics.add_metric(name="WelcomeEmailsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("welcome email not sent", extra={"reason": reason, "message_id": record.message_id,
                                                    "receive_count": record.attributes.approximate_receive_count,
                                                    **({"detail": detail} if detail else {})})


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    try:
        message = WelcomeMessage.from_json(record.body)
    except MalformedMessage as exc:
        _failed("malformed_message", record, detail=str(exc))  # what is wrong, never a value
        raise PoisonMessage("malformed message") from None
    try:
        outcome = welcome.deliver(message)
    except WelcomeFailure as exc:
        _failed(exc.reason, record)
        raise
    except WelcomeMarkFailed as exc:
        # The provider accepted the email: the record must not be retried (that would send it twice).
        metrics.add_metric(name="WelcomeEmailsSent", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="WelcomeMarkFailed", unit=MetricUnit.Count, value=1)
        logger.error("welcome email sent but not marked", extra={"user_id": message.user_id, "error_code": exc.code})
        return Outcome.SENT.value
    if outcome is Outcome.SENT:
        metrics.add_metric(name="WelcomeEmailsSent", unit=MetricUnit.Count, value=1)
        logger.info("welcome email sent", extra={"user_id": message.user_id})
    else:
        metrics.add_metric(name="WelcomeEmailsDeduplicated", unit=MetricUnit.Count, value=1)
        logger.info("welcome email already sent", extra={"user_id": message.user_id})
    return outcome.value


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Powertools types its response as a TypedDict of exactly this shape.
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)  # type: ignore[return-value]


init_done()
