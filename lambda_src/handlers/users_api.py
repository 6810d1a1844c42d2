"""The users API on Lambda, behind API Gateway (REST, Lambda proxy integration): the routes of
handlers.users_app over DynamoDB, Secrets Manager's cursor keys and DynamoDB idempotency records."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from botocore.config import Config

from adapters.aws.users_table import DynamoDBUserStore
from handlers import init_done
from handlers.observability import RETRIES, observability
from handlers.settings import UsersApiSettings
from handlers.snapshot_hooks import share_nothing_across_restores
from handlers.users_app import CREATE_SCOPE, READ_SCOPE, SECURITY_SCHEME, build_users_api
from users import contract
from users.logic import UsersService

__all__ = ["CREATE_SCOPE", "READ_SCOPE", "SECURITY_SCHEME", "app", "handler"]
settings = UsersApiSettings.from_environ()

logger, tracer, metrics = observability()
# Created once per container.
_dynamodb = boto3.client("dynamodb", config=RETRIES)
# Creates run in the stage's write region, whichever region serves the request. Another region's
# endpoint: short timeouts, so that an impaired write region is a prompt 503 with Retry-After,
# well inside the function's and API Gateway's timeouts.
_writer = _dynamodb if settings.write_region == settings.region else boto3.client(
    "dynamodb", region_name=settings.write_region,
    config=RETRIES.merge(Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 2})))
share_nothing_across_restores(_dynamodb, _writer)
CURSOR_KEY_SECRET = settings.cursor_key_secret
# Re-read at most this often, so that a rotated key reaches every warm environment in minutes.
CURSOR_KEY_MAX_AGE_SECONDS = 300


def cursor_keys() -> list[bytes]:
    """The stage's cursor keys from Secrets Manager, the signing one first: {"current": ...} and,
    after a rotation, {"previous": ...} (docs/operations.md, "Rotating the cursor key"). Read on
    the first list, not at init, so creates and reads never wait for it."""
    value = parameters.get_secret(CURSOR_KEY_SECRET, transform="json", max_age=CURSOR_KEY_MAX_AGE_SECONDS)
    return [value[name].encode() for name in ("current", "previous") if value.get(name)]


service = UsersService(
    store=DynamoDBUserStore(client=_writer, table_name=settings.table_name, region=settings.write_region, replica=_dynamodb),
    creates_per_caller_per_hour=settings.creates_per_caller_per_hour,
    cursor_keys=cursor_keys,
)
# Idempotency records belong with the create they guard: in the write region.
_idempotency_store = DynamoDBPersistenceLayer(table_name=settings.table_name, key_attr=contract.PARTITION_KEY,
                                              expiry_attr=contract.TTL_ATTRIBUTE, boto3_client=_writer)
api = build_users_api(service=service, idempotency_store=_idempotency_store, cors_origins=settings.cors_origins,
                      logger=logger, metrics=metrics)
app = api.app


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.handle(event, context)


init_done()
